import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runBuild, type BuildRequest } from '../../src/build/index.js';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { Runtime } from '../../src/runtime/index.js';
import { probeIsolation } from '../../src/sandbox/index.js';
import { get, packageScript } from '../runtime/helpers.js';

/*
 * What a hostile repository would try from inside its build or its server, as one script: read
 * the host's secrets, look at the mount table and its own powers, write to the host's system
 * folders, connect to the host's services and private addresses. It reports what worked; the
 * tests assert on that report and on what they find on the host afterwards.
 */

export interface ProbeInput {
  /** files whose reading must fail (their contents are never reported, only whether the read worked) */
  read?: string[];
  /** folders to list */
  list?: string[];
  /** files to create (each must fail in the sandbox) */
  write?: string[];
  /** TCP connections to try; host "$gateway" is the default route's gateway as seen inside */
  connect?: { name: string; host: string; port: number }[];
  /** names to resolve */
  resolve?: string[];
}

export interface ProbeResult {
  uid: number;
  status: Record<string, string>;
  mounts: string[];
  read: Record<string, string>;
  list: Record<string, string[] | string>;
  write: Record<string, string>;
  connect: Record<string, string>;
  resolve: Record<string, string>;
}

/** The probe as JavaScript: `async function probe(input)`, no imports of its own (it runs as a build script and as a server). */
const PROBE_FUNCTION = String.raw`
async function probe(input) {
  const fs = await import('node:fs');
  const net = await import('node:net');
  const dns = await import('node:dns/promises');
  const code = (fn) => { try { return fn(); } catch (e) { return e.code ?? String(e); } };
  const status = {};
  for (const line of fs.readFileSync('/proc/self/status', 'utf8').split('\n')) {
    const m = /^(Uid|Gid|CapEff|CapPrm|CapBnd|CapAmb|NoNewPrivs):\s*(.*)$/.exec(line);
    if (m) status[m[1]] = m[2].trim();
  }
  const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')[1].replace(/\\040/g, ' '));
  const out = { uid: process.getuid(), status, mounts, read: {}, list: {}, write: {}, connect: {}, resolve: {} };
  for (const p of input.read ?? []) out.read[p] = code(() => (fs.readFileSync(p), 'read'));
  for (const p of input.list ?? []) out.list[p] = code(() => fs.readdirSync(p));
  for (const p of input.write ?? []) out.write[p] = code(() => (fs.writeFileSync(p, 'hostile'), 'written'));
  let gateway;
  for (const line of fs.readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === '00000000' && f[2]) gateway = [0, 2, 4, 6].map((i) => parseInt(f[2].slice(i, i + 2), 16)).reverse().join('.');
  }
  const connect = (host, port) => new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 3000 });
    socket.once('connect', () => { socket.destroy(); resolve('connected'); });
    socket.once('timeout', () => { socket.destroy(); resolve('ETIMEDOUT'); });
    socket.once('error', (e) => resolve(e.code ?? String(e)));
  });
  for (const t of input.connect ?? []) {
    const host = t.host === '$gateway' ? gateway : t.host;
    out.connect[t.name] = host === undefined ? 'no gateway' : await connect(host, t.port);
  }
  for (const name of input.resolve ?? []) out.resolve[name] = await dns.lookup(name).then((a) => a.address, (e) => 'failed: ' + e.code);
  return out;
}
`;

/** A build script: runs the probe with $PROBE_INPUT and prints its report. */
export const PROBE_SCRIPT = `${PROBE_FUNCTION}\nprocess.stdout.write(JSON.stringify(await probe(JSON.parse(process.env.PROBE_INPUT))));\n`;

/** A server: GET /probe runs the probe with $PROBE_INPUT and answers with its report; anything else answers "up". */
export const PROBE_SERVER = `${PROBE_FUNCTION}
import { createServer } from 'node:http';
createServer((req, res) => {
  if (req.url !== '/probe') return res.end('up');
  probe(JSON.parse(process.env.PROBE_INPUT)).then((r) => res.end(JSON.stringify(r)), (e) => { res.statusCode = 500; res.end(String(e)); });
}).listen(Number(process.env.PORT), process.env.HOSTNAME);
`;

/** Why these tests cannot run here, or undefined: they need root (the uid switch, the network namespace, cgroups) and bwrap. */
export async function sandboxSkipReason(): Promise<string | undefined> {
  const iso = await probeIsolation();
  if (!iso.root) return 'not running as root: sandboxes get no uid of their own, no network namespace and no cgroups';
  if (!iso.bwrap.ok) return `bwrap does not work here: ${iso.bwrap.why}`;
  if (!iso.network.ok) return `no sandbox network here: ${iso.network.why}`;
  return undefined;
}

/**
 * A platform data dir as `slipway up` lays it out (a secret key at its top), outside /tmp (which
 * the sandbox replaces anyway, so hiding would be tested by accident).
 */
export async function makeDataDir(secret: string): Promise<{ dataDir: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp('/var/tmp/slipway-hostile-');
  const dataDir = join(root, 'data');
  await mkdir(dataDir);
  await writeFile(join(dataDir, 'secret.key'), secret, { mode: 0o600 });
  await writeFile(join(dataDir, 'slipway.db'), `rows ${secret}`, { mode: 0o600 });
  return { dataDir, cleanup: () => rm(root, { recursive: true, force: true }) };
}

let builds = 0;

/**
 * Run the probe as a build's command, laid out as the worker does: the checkout and scratch
 * folder under <data-dir>/builds/<n>, the data dir hidden.
 */
export async function probeInBuild(dataDir: string, input: ProbeInput, extra: Partial<BuildRequest> = {}): Promise<{ result: ProbeResult; lines: string[]; workDir: string }> {
  const workDir = join(dataDir, 'builds', `probe-${++builds}`);
  const sourceDir = join(workDir, 'src');
  await mkdir(sourceDir, { recursive: true });
  await writeFile(join(sourceDir, 'probe.mjs'), PROBE_SCRIPT);
  const lines: string[] = [];
  await runBuild({
    sourceDir,
    settings: { buildCommand: 'node probe.mjs > probe.json', outputDirectory: '.' },
    env: { PROBE_INPUT: JSON.stringify(input) },
    timeoutMs: 60_000,
    log: (l) => lines.push(l),
    cacheDir: join(dataDir, 'cache'),
    hiddenPaths: [dataDir],
    scratchDir: workDir,
    ...extra,
  });
  return { result: JSON.parse(await readFile(join(sourceDir, 'probe.json'), 'utf8')) as ProbeResult, lines, workDir };
}

/** A Runtime laid out as the edge's: bundles and blobs under the data dir, the data dir hidden (unless `sandbox` is false). */
export function makeRuntime(dataDir: string, sandbox = true): { runtime: Runtime; blobs: LocalBlobStore; dir: string } {
  const blobs = new LocalBlobStore(join(dataDir, 'blobs'));
  const dir = join(dataDir, sandbox ? 'runtime' : 'runtime-unsandboxed');
  const runtime = new Runtime({ blobs, dir, log: () => {}, sandbox: sandbox ? { hidden: [dataDir] } : undefined });
  return { runtime, blobs, dir };
}

let servers = 0;

/** Start a probe server in `runtime` and ask it to probe; also returns where it listens. */
export async function probeInServer(rt: { runtime: Runtime; blobs: LocalBlobStore; dir: string }, input: ProbeInput): Promise<{ result: ProbeResult; host: string; port: number }> {
  const id = `dprobe${++servers}`;
  const bundle = await packageScript(`${rt.dir}-src`, rt.blobs, id, PROBE_SERVER);
  const { host, port } = await rt.runtime.ensure(id, bundle, { PROBE_INPUT: JSON.stringify(input) });
  const reply = await get(port, '/probe', { host });
  if (reply.status !== 200) throw new Error(`the probe server answered ${reply.status}: ${reply.body}`);
  return { result: JSON.parse(reply.body) as ProbeResult, host, port };
}
