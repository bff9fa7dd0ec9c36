import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { runBuild } from '../../src/build/index.js';
import { makeDataDir, makeRuntime, probeInBuild, probeInServer, sandboxSkipReason, type ProbeInput } from './sandbox-probe.js';

// A hostile build or server dials what it should not reach: Slipway's API on the host's
// loopback and on the machine's own address (it listens on 0.0.0.0), the host end of its own
// link, another project's server, and the cloud metadata service and private networks. All of
// them must fail from inside; the internet (the npm registry) and DNS must still work.
//
// The "metadata" (169.254.169.254) and "private" (10.200.0.1) addresses live in a network
// namespace this test makes and routes to from the host, so no probe leaves the machine.

const run = promisify(execFile);
const tag = randomBytes(3).toString('hex');
const NETNS = `hostile-${tag}`;
const HOST_IF = `hst${tag}`;
const octet = randomBytes(1)[0]!; // two runs at once must not share the link
const LINK = { host: `10.201.${octet}.1`, inside: `10.201.${octet}.2` };
const METADATA = '169.254.169.254';
const PRIVATE = '10.200.0.1';

let skip: string | undefined;
let data: Awaited<ReturnType<typeof makeDataDir>>;
const listeners: Server[] = [];
let rt: ReturnType<typeof makeRuntime>;
let farListener: ChildProcess | undefined;
let netnsMade = false;
let input: ProbeInput;
let ownAddress: string;

function listen(host: string): Promise<number> {
  // a prober closes at once: its reset is no error here
  const server = createServer((socket) => socket.on('error', () => {}).end('slipway api\n'));
  listeners.push(server);
  return new Promise((resolve) => server.listen(0, host, () => resolve((server.address() as { port: number }).port)));
}

function tcp(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 3000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('ETIMEDOUT');
    });
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? String(e)));
  });
}

const ip = (...args: string[]) => run('ip', args, { timeout: 10_000 });

/** A namespace holding the metadata and private addresses, routed to from the host, with a listener on port 80. */
async function makeFarNetwork(): Promise<void> {
  await ip('netns', 'add', NETNS);
  netnsMade = true;
  await ip('link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NETNS);
  await ip('addr', 'add', `${LINK.host}/30`, 'dev', HOST_IF);
  await ip('link', 'set', HOST_IF, 'up');
  for (const args of [
    ['link', 'set', 'lo', 'up'],
    ['addr', 'add', `${LINK.inside}/30`, 'dev', 'eth0'],
    ['link', 'set', 'eth0', 'up'],
    ['addr', 'add', `${METADATA}/32`, 'dev', 'lo'],
    ['addr', 'add', `${PRIVATE}/32`, 'dev', 'lo'],
    ['route', 'add', 'default', 'via', LINK.host],
  ]) {
    await ip('-n', NETNS, ...args);
  }
  await ip('route', 'add', `${METADATA}/32`, 'via', LINK.inside, 'dev', HOST_IF);
  await ip('route', 'add', `${PRIVATE}/32`, 'via', LINK.inside, 'dev', HOST_IF);
  farListener = spawn(
    'ip',
    ['netns', 'exec', NETNS, process.execPath, '-e', "require('net').createServer((s) => s.on('error', () => {}).end('metadata\\n')).listen(80, '0.0.0.0', () => console.log('up'))"],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    farListener!.stdout!.once('data', () => resolve());
    farListener!.once('exit', (code) => reject(new Error(`the listener in ${NETNS} exited (${code})`)));
  });
}

async function removeFarNetwork(): Promise<void> {
  if (farListener !== undefined && farListener.exitCode === null) {
    farListener.kill('SIGKILL');
    await new Promise((r) => farListener!.once('exit', r));
  }
  for (const dest of [METADATA, PRIVATE]) await ip('route', 'del', `${dest}/32`).catch(() => undefined);
  await ip('link', 'del', HOST_IF).catch(() => undefined);
  if (netnsMade) await ip('netns', 'del', NETNS).catch(() => undefined);
}

before(async () => {
  skip = await sandboxSkipReason();
  if (skip !== undefined) return;
  const own = Object.entries(networkInterfaces())
    .filter(([name]) => !name.startsWith('slw') && !name.startsWith('hst'))
    .flatMap(([, addrs]) => addrs ?? [])
    .find((a) => a.family === 'IPv4' && !a.internal);
  if (own === undefined) {
    skip = 'this machine has no non-loopback IPv4 address';
    return;
  }
  ownAddress = own.address;
  data = await makeDataDir('unused');
  const loopbackPort = await listen('127.0.0.1');
  const anyPort = await listen('0.0.0.0');
  await makeFarNetwork();
  // another project's server, in a sandbox of its own
  rt = makeRuntime(data.dataDir);
  const other = await probeInServer(rt, {});
  input = {
    connect: [
      { name: 'host loopback', host: '127.0.0.1', port: loopbackPort },
      { name: 'host loopback (0.0.0.0 listener)', host: '127.0.0.1', port: anyPort },
      { name: "machine's own address", host: ownAddress, port: anyPort },
      { name: 'host end of its own link', host: '$gateway', port: anyPort },
      { name: 'another sandboxed server', host: other.host, port: other.port },
      { name: 'metadata', host: METADATA, port: 80 },
      { name: 'private range', host: PRIVATE, port: 80 },
    ],
    resolve: ['registry.npmjs.org'],
  };
});

after(async () => {
  if (skip !== undefined && data === undefined) return;
  await rt?.runtime.close();
  for (const server of listeners) server.close();
  await removeFarNetwork();
  await data?.cleanup();
});

function assertCutOff(connect: Record<string, string>, what: string): void {
  assert.equal(Object.keys(connect).length, input.connect!.length, 'every connection was tried');
  for (const [name, outcome] of Object.entries(connect)) assert.notEqual(outcome, 'connected', `${what} reached ${name}`);
}

describe('network: a sandbox reaches the internet and nothing of the host, its networks or other sandboxes', () => {
  it('the host itself reaches every target (so the probes below can fail)', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    for (const target of input.connect!) {
      if (target.host === '$gateway') continue;
      assert.equal(await tcp(target.host, target.port), 'connected', `the host cannot reach ${target.name}`);
    }
  });

  it('a build connects to none of them, but resolves names', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const { result } = await probeInBuild(data.dataDir, input);
    assertCutOff(result.connect, 'the build');
    assert.match(result.resolve['registry.npmjs.org'] ?? '', /^\d+\.\d+\.\d+\.\d+$/, 'DNS works in the build');
  });

  it('a server connects to none of them, but resolves names', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const { result } = await probeInServer(rt, input);
    assertCutOff(result.connect, 'the server');
    assert.match(result.resolve['registry.npmjs.org'] ?? '', /^\d+\.\d+\.\d+\.\d+$/, 'DNS works in the server');
  });

  it('without the sandbox a build reaches them all', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const { result } = await probeInBuild(data.dataDir, input, { sandbox: false });
    for (const target of input.connect!) {
      if (target.host !== '$gateway') assert.equal(result.connect[target.name], 'connected', target.name);
    }
  });

  it('a build still reaches the npm registry', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const sourceDir = join(data.dataDir, 'builds', 'npm', 'src');
    const lines: string[] = [];
    await mkdir(sourceDir, { recursive: true });
    await runBuild({
      sourceDir,
      settings: { buildCommand: 'npm view left-pad version > version.txt', outputDirectory: '.' },
      env: {},
      timeoutMs: 90_000,
      log: (l) => lines.push(l),
      cacheDir: join(data.dataDir, 'cache'),
      hiddenPaths: [data.dataDir],
      scratchDir: join(data.dataDir, 'builds', 'npm'),
    });
    assert.ok(!lines.some((l) => l.startsWith('Warning: sandbox')), lines.join('\n'));
    assert.match(await readFile(join(sourceDir, 'version.txt'), 'utf8'), /^\d+\.\d+\.\d+\n$/);
  });
});
