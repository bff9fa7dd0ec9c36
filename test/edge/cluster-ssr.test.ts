import assert from 'node:assert/strict';
import cluster, { type Worker } from 'node:cluster';
import { rename, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { createEdgeServer, createMemoryLookup, createRemoteGateway, serveRuntime, startEdgeCluster } from '../../src/edge/index.js';
import { createRuntimeGateway } from '../../src/runtime/index.js';
import { tempDir } from '../helpers/paths.js';
import { isAlive, packageSsrSite, sleep, until } from '../runtime/helpers.js';
import { SSR_CONFIG_ENV, type SsrEdgeConfig } from './cluster-ssr-worker.js';

// One runtime per edge node: the primary runs each SSR deployment's server once, and the
// workers of a 2-process cluster proxy to it directly.
/** write then rename: the workers read the file every poll, and must never see it half written */
async function writeConfig(file: string, config: SsrEdgeConfig): Promise<void> {
  await writeFile(`${file}.tmp`, JSON.stringify(config));
  await rename(`${file}.tmp`, file);
}

const workerModule = fileURLToPath(new URL('./cluster-ssr-worker.js', import.meta.url));
let tmp: Awaited<ReturnType<typeof tempDir>>;
let blobs: LocalBlobStore;
let manifestHash: string;

before(async () => {
  tmp = await tempDir();
  blobs = new LocalBlobStore(join(tmp.path, 'blobs'));
  manifestHash = await packageSsrSite(tmp.path, blobs);
});

after(() => tmp.cleanup());

let clusters = 0;

async function startNode(opts: { standbyMs: number; idleMs: number; hosts: Record<string, string> }) {
  const n = ++clusters;
  const configFile = join(tmp.path, `edge-${n}.json`);
  const config: SsrEdgeConfig = { blobRoot: join(tmp.path, 'blobs'), standbyMs: opts.standbyMs, generation: 0, hosts: {} };
  for (const [host, id] of Object.entries(opts.hosts)) config.hosts[host] = { deploymentId: id, manifestHash };
  await writeConfig(configFile, config);

  const { gateway, runtime } = createRuntimeGateway(blobs, join(tmp.path, `data-${n}`), { memoryMb: 0, requestTimeoutMs: 10_000, idleMs: opts.idleMs });
  const drains: string[] = [];
  const drain = gateway.drain;
  gateway.drain = (id, graceMs) => {
    drains.push(id);
    return drain(id, graceMs);
  };
  const ensuredBy = new Map<string, Set<number>>();
  const onMessage = (worker: Worker, message: { rt?: string; deploymentId?: string }) => {
    if (message?.rt !== 'ensure' || message.deploymentId === undefined) return;
    const set = ensuredBy.get(message.deploymentId) ?? new Set();
    set.add(worker.id);
    ensuredBy.set(message.deploymentId, set);
  };
  cluster.on('message', onMessage);
  const served = serveRuntime(gateway, runtime, opts.idleMs, () => {});
  // round-robin: the primary hands connections to the workers in turn, so both serve
  const edge = await startEdgeCluster({ workers: 2, port: 0, host: '127.0.0.1', workerModule, scheduling: 'rr', env: { [SSR_CONFIG_ENV]: configFile }, log: () => {} });

  const get = (host: string, path = '/') =>
    new Promise<{ status: number; deployment: string; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: edge.port, path, headers: { host }, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, deployment: String(res.headers['x-slipway-deployment']), body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.end();
    });
  /**
   * The server processes `count` requests (fresh connections, so both workers take some) reach,
   * each named by its port (inside the sandbox every server is pid 2); every answer must be a 200.
   */
  const serversAnswering = async (host: string, count = 10) => {
    const ports = new Set<string>();
    for (const reply of await Promise.all(Array.from({ length: count }, () => get(host)))) {
      assert.equal(reply.status, 200, `HTTP ${reply.status}: ${reply.body.slice(0, 200)}`);
      ports.add((JSON.parse(reply.body) as { env: { PORT: string } }).env.PORT);
    }
    return ports;
  };
  const running = (id: string) => runtime.status().filter((s) => s.deploymentId === id && s.state === 'running');
  /** the host pid of the deployment's one running server */
  const pidOf = (id: string) => {
    const all = running(id);
    assert.equal(all.length, 1, `one running server for ${id}`);
    return all[0]!.pid!;
  };
  const move = async (host: string, id: string) => {
    config.hosts[host] = { deploymentId: id, manifestHash };
    config.generation += 1;
    await writeConfig(configFile, config);
  };
  return {
    edge,
    runtime,
    drains,
    ensuredBy,
    get,
    serversAnswering,
    pidOf,
    running,
    move,
    async close() {
      await edge.close();
      cluster.off('message', onMessage);
      served.close();
      await runtime.close();
    },
  };
}

test('both workers proxy to one server process per deployment; a move drains the replaced one once, after its standby', async () => {
  const node = await startNode({ standbyMs: 500, idleMs: 600_000, hosts: { 'site.localhost': 'done' } });
  try {
    const servers = await node.serversAnswering('site.localhost', 20);
    assert.equal(servers.size, 1, 'one server for the deployment, whichever worker answers');
    assert.equal(node.ensuredBy.get('done')?.size, 2, 'both workers asked the primary for it');
    const [first] = [...servers];
    const firstPid = node.pidOf('done');

    await node.move('site.localhost', 'dtwo');
    await until(() => node.running('dtwo').length === 1, 5000, 'the new server');
    let next = new Set<string>();
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      next = await node.serversAnswering('site.localhost', 4);
      if (!next.has(first!)) break;
      await sleep(20);
    }
    assert.equal(next.size, 1);
    assert.notEqual([...next][0], first, 'the move reached both workers');
    assert.ok(isAlive(firstPid), 'the replaced server waits on standby');
    await until(() => !isAlive(firstPid), 5000, 'the replaced server to stop after its standby');
    assert.deepEqual(
      node.drains.filter((id) => id === 'done'),
      ['done'],
      'drained once, when both workers had released it',
    );
    assert.deepEqual(await node.serversAnswering('site.localhost', 6), next, 'the routed one keeps running');
  } finally {
    await node.close();
  }
});

test('an idle server stops, and the next requests on every worker start it again without a 502', async () => {
  // a preview host: not pinned, so it idles out
  const node = await startNode({ standbyMs: 60_000, idleMs: 1500, hosts: { 'dprev--site.localhost': 'dprev' } });
  try {
    const servers = await node.serversAnswering('dprev--site.localhost', 10);
    assert.equal(servers.size, 1);
    const [first] = [...servers];
    const firstPid = node.pidOf('dprev');
    await until(() => !isAlive(firstPid), 8000, 'the idle server to stop');
    const again = await node.serversAnswering('dprev--site.localhost', 10);
    assert.equal(again.size, 1, 'one new server');
    assert.ok(!again.has(first!) || !isAlive(firstPid));
    const againPid = node.pidOf('dprev');
    assert.notEqual(againPid, firstPid, 'a new process');
    // while requests keep coming (through both workers) it is not idle, longer than the idle time
    const busyUntil = Date.now() + 3000;
    while (Date.now() < busyUntil) {
      assert.deepEqual(await node.serversAnswering('dprev--site.localhost', 2), again);
      await sleep(200);
    }
    assert.equal(node.pidOf('dprev'), againPid, 'still the same server');
  } finally {
    await node.close();
  }
});

test('a killed worker does not keep a server in use: its holds are released', async () => {
  const node = await startNode({ standbyMs: 300, idleMs: 600_000, hosts: { 'site.localhost': 'dkill' } });
  try {
    const [first] = [...(await node.serversAnswering('site.localhost', 10))];
    assert.equal(node.ensuredBy.get('dkill')?.size, 2);
    const firstPid = node.pidOf('dkill');
    const victim = node.edge.pids()[0]!;
    process.kill(victim, 'SIGKILL');
    await until(() => node.edge.pids().length === 2 && !node.edge.pids().includes(victim), 5000, 'a replacement worker');
    await node.move('site.localhost', 'dnext');
    // the surviving worker releases it after the standby; the dead one cannot
    await until(() => !isAlive(firstPid), 8000, 'the replaced server to stop');
    const now = await node.serversAnswering('site.localhost', 6);
    assert.equal(now.size, 1);
    assert.ok(!now.has(first!));
  } finally {
    await node.close();
  }
});

test('an ensure that cannot reach the primary answers the 502 page, and the edge keeps serving', async () => {
  // under node --test this process has no IPC channel: every ensure fails to send
  assert.equal(process.send, undefined);
  const servers = createRemoteGateway();
  const lookup = createMemoryLookup({ 'site.localhost': { deploymentId: 'dnoipc', manifestHash } });
  const edge = createEdgeServer({ lookup, blobs, servers, log: () => {} });
  await new Promise<void>((resolve) => edge.server.listen(0, '127.0.0.1', resolve));
  const port = (edge.server.address() as AddressInfo).port;
  const call = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, headers: { host: 'site.localhost' }, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.end();
    });
  try {
    const page = await call('/');
    assert.equal(page.status, 502);
    assert.match(page.body, /502/);
    assert.equal((await call('/robots.txt')).status, 200, 'static files are still served');
    assert.equal((await call('/')).status, 502);
  } finally {
    await edge.close();
    servers.close();
  }
});

test('the primary ignores messages that are not its own or are malformed', async () => {
  const { gateway, runtime } = createRuntimeGateway(blobs, join(tmp.path, 'data-garbage'), { memoryMb: 0, requestTimeoutMs: 10_000, idleMs: 60_000 });
  const served = serveRuntime(gateway, runtime, 60_000, () => {});
  try {
    const fakeWorker = { id: 9999, isConnected: () => false, process: { pid: 1 } };
    for (const message of [
      null,
      'text',
      42,
      { cmd: 'NODE_CLUSTER' },
      { rt: 'ensure' },
      { rt: 'ensure', seq: 1, deploymentId: 5, bundle: {} },
      { rt: 'pin', deploymentIds: 'x' },
      { rt: 'pin', deploymentIds: [1] },
      { rt: 'release' },
      { rt: 'active', deploymentIds: null },
      { rt: 'nope' },
    ]) {
      cluster.emit('message', fakeWorker, message);
    }
    cluster.emit('exit', fakeWorker, 0, null);
    await sleep(50);
    assert.deepEqual(runtime.status(), []);
  } finally {
    served.close();
    await runtime.close();
  }
});
