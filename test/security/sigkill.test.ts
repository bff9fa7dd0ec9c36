import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SANDBOX_UID } from '../../src/sandbox/root.js';
import { makeRepo } from '../helpers/git.js';
import { removeTree } from '../helpers/paths.js';
import { edgeGet, startSlipwayProcess, waitFor, waitForStatus, type RunningSlipway } from '../helpers/slipway.js';
import { sandboxSkipReason } from './sandbox-probe.js';

// A platform killed with SIGKILL gets no chance to stop anything. Its sandboxed build and its
// SSR server must die with it (pdeathsig), and the next start on the same data dir must sweep
// what is left: cgroups, network namespaces, the mounted build folder and its disk image.

const tag = `301.${randomInt(1e5, 1e6)}`; // a sleep duration no other process has: our marker
let skip: string | undefined;
let root: string;
const running: RunningSlipway[] = [];

before(async () => {
  skip = await sandboxSkipReason();
  root = await mkdtemp('/var/tmp/slipway-sigkill-');
});
after(async () => {
  for (const s of running) await s.kill();
  // a failed sweep leaves the build folder mounted: removeTree unmounts it first
  await removeTree(root);
});

/** Host pids of processes running as the sandbox uid that carry our marker in their argv or environment. */
async function marked(): Promise<number[]> {
  const found: number[] = [];
  for (const name of (await readdir('/proc')).filter((x) => /^\d+$/.test(x))) {
    const status = await readFile(`/proc/${name}/status`, 'utf8').catch(() => '');
    if (!new RegExp(`^Uid:\\s+${SANDBOX_UID}\\s`, 'm').test(status)) continue;
    const [cmdline, environ] = await Promise.all([readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => ''), readFile(`/proc/${name}/environ`, 'utf8').catch(() => '')]);
    if (cmdline.includes(tag) || environ.includes(`HOSTILE_TAG=${tag}`)) found.push(Number(name));
  }
  return found;
}

/** What a Slipway process `pid` leaves in the kernel: its cgroups and its network namespaces' owner files. */
async function leftovers(pid: number, buildsRoot: string): Promise<string[]> {
  const out: string[] = [];
  for (const controller of ['memory', 'pids', 'cpu']) {
    for (const name of await readdir(`/sys/fs/cgroup/${controller}/slipway`).catch(() => [] as string[])) {
      if (name.startsWith(`${pid}-`)) out.push(`cgroup ${controller}/${name}`);
    }
  }
  for (const slot of await readdir('/run/slipway-netns').catch(() => [] as string[])) {
    if ((await readFile(join('/run/slipway-netns', slot), 'utf8').catch(() => '')) === String(pid)) out.push(`netns slw-${slot}`);
  }
  const mounts = await readFile('/proc/self/mounts', 'utf8');
  for (const line of mounts.split('\n')) if (line.split(' ')[1]?.startsWith(`${buildsRoot}/`)) out.push(`mount ${line.split(' ')[1]}`);
  return out;
}

async function start(dataDir: string): Promise<RunningSlipway> {
  // a long lease: the restarted Slipway must not retry the killed build while the test looks
  const s = await startSlipwayProcess(dataDir, ['--edge-workers', '0', '--job-lease-ms', '120000', '--build-disk-mb', '256']);
  running.push(s);
  return s;
}

test('SIGKILL of the platform leaves no build or server running; the next start sweeps its leftovers and dead build folders', async (t) => {
  if (skip !== undefined) return t.skip(skip);
  const dataDir = join(root, 'data');
  const buildsRoot = join(dataDir, 'builds');

  // an SSR "Next.js" app whose build writes a tiny standalone server, and a static site whose build sleeps
  const ssr = await makeRepo(join(root, 'ssr'));
  await ssr.commit(
    {
      'package.json': JSON.stringify({ name: 'ssr', dependencies: { next: '14.2.0' } }),
      'server.js': "require('http').createServer((req, res) => res.end('ssr up')).listen(Number(process.env.PORT), process.env.HOSTNAME);\n",
    },
    'ssr',
  );
  await ssr.push();
  const slow = await makeRepo(join(root, 'slow'));
  await slow.commit({ 'index.html': '<h1>slow</h1>' }, 'slow');
  await slow.push();

  const a = await start(dataDir);
  const build = 'mkdir -p .next/standalone .next/static public && cp server.js .next/standalone/server.js && echo ok > public/robots.txt';
  assert.equal((await a.api('POST', '/api/v1/projects', { name: 'ssr', repoUrl: ssr.url, installCommand: 'true', buildCommand: build })).status, 201);
  assert.equal((await a.api('POST', '/api/v1/projects', { name: 'slow', repoUrl: slow.url, buildCommand: `sleep ${tag}` })).status, 201);
  for (const project of ['ssr', 'slow']) await a.api('PUT', `/api/v1/projects/${project}/env/HOSTILE_TAG`, { value: tag });

  const { body: ssrDeploy } = await a.api('POST', '/api/v1/projects/ssr/deployments', {});
  const ready = await waitForStatus(a, ssrDeploy.id, ['ready', 'failed'], 90_000);
  assert.equal(ready.status, 'ready', JSON.stringify(ready.error));
  assert.equal((await edgeGet(a.edgePort, 'ssr.localhost', '/')).text, 'ssr up', 'the SSR server runs');

  const { body: slowDeploy } = await a.api('POST', '/api/v1/projects/slow/deployments', {});
  await waitForStatus(a, slowDeploy.id, ['building'], 60_000);
  const slowFolder = join(buildsRoot, `${slowDeploy.id}-1`);
  // both the server and the sleeping build run as the sandbox uid, marked (so the check after the kill can fail)
  const before = await waitFor(
    'the server and the sleeping build to run',
    async () => {
      const pids = await marked();
      const sleeping = await Promise.all(pids.map((p) => readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')));
      return sleeping.some((c) => c.startsWith('sleep\0')) && pids.length >= 2 ? pids : undefined;
    },
    60_000,
  );
  assert.ok(before.length >= 2);
  const pid = a.proc.pid!;
  const held = await leftovers(pid, buildsRoot);
  assert.ok(
    held.some((l) => l.startsWith('cgroup memory/')),
    `a build or server cgroup exists: ${held.join(', ')}`,
  );
  assert.ok(
    held.some((l) => l.startsWith('netns ')),
    'a sandbox network exists',
  );
  assert.ok(held.includes(`mount ${slowFolder}`), 'the build folder is mounted');

  await a.kill();
  const survivors = await waitFor('every sandboxed process to die', async () => ((await marked()).length === 0 ? [] : undefined), 10_000, 100).catch(async () => marked());
  assert.deepEqual(survivors, [], 'no build or server process outlives the platform');

  // the next start on the same data dir: the sweep takes what the dead process left
  const b = await start(dataDir);
  await waitFor('the worker to sweep the dead build folder', async () => (existsSync(slowFolder) || existsSync(`${slowFolder}.img`) ? undefined : true), 15_000);
  assert.deepEqual(await leftovers(pid, buildsRoot), [], 'no cgroup, network or mount of the killed process is left');
  assert.match(b.output(), /Swept what a stopped Slipway left: \d+ sandboxed processes, [1-9]\d* sandbox networks/);
  assert.match(b.output(), /removed 1 build folder of attempts that no longer run/);
  // and the platform works: the SSR site still answers
  assert.equal((await edgeGet(b.edgePort, 'ssr.localhost', '/')).text, 'ssr up');
  await b.stop();
  assert.deepEqual(await marked(), [], 'nothing is left after a clean stop either');
});
