import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createLogWriter, createRequestObserver, readAccessEntries, readServerLines, type LogWriter } from '../../src/access-log/index.js';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { createEdgeServer, createMemoryLookup, type EdgeServer } from '../../src/edge/index.js';
import { createMetrics, type Metrics } from '../../src/metrics/index.js';
import { registerRuntimeGauges } from '../../src/metrics/collectors.js';
import { createMetricsServer } from '../../src/metrics/serve.js';
import { createRuntimeGateway, type Runtime } from '../../src/runtime/index.js';
import { Store } from '../../src/store/index.js';
import { tempDir } from '../helpers/paths.js';
import { packageSsrSite } from '../runtime/helpers.js';

// A real edge over sockets in front of a real SSR server process (the runtime's fixture app),
// observed as `slipway up` observes it: the server's output is kept for its deployment, each
// request lands in the project's access log with its bytes, and the metrics count the proxied
// requests, the running server and its memory. Then the --metrics-port listener's token check.

interface Family {
  name: string;
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string> }[];
}
const parse = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

let tmp: Awaited<ReturnType<typeof tempDir>>;
let store: Store;
let edge: EdgeServer;
let runtime: Runtime;
let writer: LogWriter;
let metrics: Metrics;
let port: number;
const PROJECT = 'p_shop';

before(async () => {
  tmp = await tempDir('slipway-edge-ssr-log-');
  store = await Store.openSqlite(join(tmp.path, 'slipway.db'), { migrate: true });
  const now = Date.now();
  await store.db
    .insertInto('projects')
    .values({ id: PROJECT, name: 'shop', repo_url: 'file:///nowhere', production_branch: 'main', webhook_secret: 'x', created_at: now } as never)
    .execute();
  await store.db
    .insertInto('deployments')
    .values({
      id: 'dshop0000001',
      project_id: PROJECT,
      seq: 1,
      status: 'ready',
      target: 'production',
      trigger: 'api',
      branch: 'main',
      commit_sha: 'a'.repeat(40),
      attempts: 0,
      created_at: now,
    } as never)
    .execute();
  const blobs = new LocalBlobStore(join(tmp.path, 'blobs'));
  const manifestHash = await packageSsrSite(tmp.path, blobs);
  metrics = createMetrics();
  writer = createLogWriter({ store, metrics, flushMs: 60_000 });
  const created = createRuntimeGateway(blobs, tmp.path, { memoryMb: 0, requestTimeoutMs: 10_000, idleMs: 60_000 }, undefined, undefined, (id, line) => writer.serverLine(id, line));
  runtime = created.runtime;
  registerRuntimeGauges(metrics.registry, () => runtime.status());
  edge = createEdgeServer({
    lookup: createMemoryLookup({ 'shop.localhost': { deploymentId: 'dshop0000001', manifestHash } }),
    blobs,
    servers: created.gateway,
    observer: createRequestObserver(writer),
  });
  await new Promise<void>((resolve) => edge.server.listen(0, '127.0.0.1', resolve));
  port = (edge.server.address() as AddressInfo).port;
});

after(async () => {
  await edge?.close();
  await runtime?.close();
  await writer?.close();
  await store?.close();
  await tmp?.cleanup();
});

function get(path: string, agent: Agent | false = false): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: 'shop.localhost' }, agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test("an SSR server's output is kept for its deployment, its requests in the project's access log and metrics", async () => {
  const ssr = await get('/version?from=test');
  assert.equal(ssr.status, 200);
  // keep-alive: the second answer takes the edge's raw fast path, whose bytes bypass ServerResponse
  const agent = new Agent({ keepAlive: true });
  try {
    for (let i = 0; i < 2; i++) assert.equal((await get('/robots.txt', agent)).body, 'User-agent: *\n');
  } finally {
    agent.destroy();
  }
  await writer.flush();

  const lines = await readServerLines(store.db, PROJECT, { since: 0, limit: 100 });
  assert.ok(
    lines.some((l) => /^listening on /.test(l.text) && l.deploymentId === 'dshop0000001'),
    JSON.stringify(lines),
  );
  const entries = await readAccessEntries(store.db, PROJECT, { since: 0, limit: 100 });
  assert.deepEqual(
    entries.map((e) => [e.method, e.path, e.status, e.host, e.deploymentId]),
    [
      ['GET', '/version?from=test', 200, 'shop.localhost', 'dshop0000001'],
      ['GET', '/robots.txt', 200, 'shop.localhost', 'dshop0000001'],
      ['GET', '/robots.txt', 200, 'shop.localhost', 'dshop0000001'],
    ],
  );
  for (const e of entries.slice(1)) assert.ok(e.bytes > 'User-agent: *\n'.length + 50, `head and body counted: ${e.bytes}`);

  const families = parse(await metrics.registry.metrics());
  const family = (name: string) => families.find((f) => f.name === name)?.metrics ?? [];
  const requests = family('slipway_edge_requests_total');
  assert.equal(Number(requests.find((m) => m.labels?.project === 'shop' && m.labels.cache === 'server')?.value), 1);
  assert.equal(
    requests.filter((m) => m.labels?.project === 'shop' && m.labels.cache !== 'server').reduce((n, m) => n + Number(m.value), 0),
    2,
  );
  assert.equal(Number(family('slipway_ssr_proxy_duration_seconds')[0]?.buckets?.['+Inf']), 1);
  const servers = family('slipway_servers');
  assert.equal(
    servers.reduce((n, m) => n + Number(m.value), 0),
    1,
    JSON.stringify(servers),
  );
  const memory = family('slipway_server_memory_bytes');
  if (process.platform === 'linux') assert.ok(Number(memory[0]?.value) > 1024 * 1024, `resident memory: ${JSON.stringify(memory)}`);
});

test('the --metrics-port listener answers GET /metrics with the token only', async () => {
  const server = createMetricsServer('metrics-token-0123456789', () => metrics.registry.metrics());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const none = await fetch(`${url}/metrics`);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="slipway-metrics"');
    assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
    assert.equal((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer metrics-token-012345678' } })).status, 401, 'a prefix of the token is not the token');
    const ok = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer metrics-token-0123456789' } });
    assert.equal(ok.status, 200);
    assert.ok(parse(await ok.text()).some((f) => f.name === 'slipway_edge_requests_total'));
    assert.equal((await fetch(`${url}/other`, { headers: { authorization: 'Bearer metrics-token-0123456789' } })).status, 404);
    const off = createMetricsServer(undefined, () => metrics.registry.metrics());
    await new Promise<void>((resolve) => off.listen(0, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(off.address() as AddressInfo).port}/metrics`, { headers: { authorization: 'Bearer anything-at-all-here' } });
      assert.equal(res.status, 404, 'without a configured token, metrics are off');
    } finally {
      await new Promise((resolve) => off.close(resolve));
    }
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
