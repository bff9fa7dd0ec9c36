import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { createEdgeServer, createMemoryLookup } from '../../src/edge/index.js';
import { checkStore, readiness, startHealthListener } from '../../src/health/index.js';
import { Store } from '../../src/store/index.js';
import { get, makeDeployment } from '../edge/helpers.js';
import { tempDir } from '../helpers/paths.js';
import { startSlipwayProcess } from '../helpers/slipway.js';
import { createServer } from 'node:net';

test('the --health-port listener: /healthz while the process runs, /readyz follows the store', async () => {
  const tmp = await tempDir('slipway-health-');
  const store = await Store.openSqlite(join(tmp.path, 'slipway.db'));
  let storeOpen = true;
  const listener = await startHealthListener({
    port: 0,
    host: '127.0.0.1',
    health: async () => ({ worker: { running: 0 } }),
    ready: async () => readiness({ store: storeOpen ? await checkStore(store) : 'the store is unreachable: closed' }),
  });
  try {
    const health = await fetch(`http://127.0.0.1:${listener.port}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok', roles: { worker: { running: 0 } } });
    const ready = await fetch(`http://127.0.0.1:${listener.port}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ok', checks: { store: 'ok' } });
    assert.equal((await fetch(`http://127.0.0.1:${listener.port}/other`)).status, 404);
    await store.close();
    storeOpen = false;
    // a real check of a closed store fails too
    assert.match(await checkStore(store), /^the store is unreachable: /);
    const down = await fetch(`http://127.0.0.1:${listener.port}/readyz`);
    assert.equal(down.status, 503);
    assert.equal(((await down.json()) as { status: string }).status, 'not ready');
  } finally {
    await listener.close();
    if (storeOpen) await store.close();
    await tmp.cleanup();
  }
});

test('the edge answers /.well-known/slipway/readyz for any Host, before any site, and only once its routes are loaded', async () => {
  const tmp = await tempDir('slipway-edge-health-');
  const blobs = new LocalBlobStore(tmp.path);
  // a site that ships a file at the reserved path: it does not shadow the edge's answer
  const { manifestHash } = await makeDeployment(blobs, { 'index.html': 'site', '.well-known/slipway/readyz': 'shadow' });
  const memory = createMemoryLookup({ 'site.localhost': { deploymentId: 'd1', manifestHash } });
  let storeUp = false;
  const lookup = { ...memory, aliasGeneration: () => (storeUp ? memory.aliasGeneration() : Promise.reject(new Error('store down'))) };
  const edge = createEdgeServer({ lookup, blobs, pollMs: 10, log: () => undefined });
  await new Promise<void>((resolve) => edge.server.listen(0, '127.0.0.1', resolve));
  const port = (edge.server.address() as AddressInfo).port;
  try {
    const starting = await get(port, 'site.localhost', '/.well-known/slipway/readyz');
    assert.equal(starting.status, 503, 'not ready before the routes were loaded');
    assert.equal((await get(port, 'site.localhost', '/.well-known/slipway/healthz')).status, 200, 'alive meanwhile');
    storeUp = true;
    for (let i = 0; i < 200 && !edge.ready(); i++) await new Promise((r) => setTimeout(r, 10));
    const ready = await get(port, 'site.localhost', '/.well-known/slipway/readyz');
    assert.equal(ready.status, 200);
    assert.equal((JSON.parse(ready.text) as { role: string }).role, 'edge');
    assert.equal((await get(port, 'unknown.example', '/.well-known/slipway/readyz')).status, 200, 'any Host');
    assert.equal((await get(port, 'site.localhost', '/')).text, 'site');
  } finally {
    await edge.close();
    await tmp.cleanup();
  }
});

test('slipway up --roles worker --health-port: a worker-only process answers its supervisor', async () => {
  const tmp = await tempDir('slipway-worker-health-');
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const slipway = await startSlipwayProcess(join(tmp.path, 'data'), ['--roles', 'worker', '--health-port', String(port)]);
  try {
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    const roles = ((await health.json()) as { roles: Record<string, unknown> }).roles;
    // the worker's own health, and the data dir's free space (every process reports its disk)
    assert.deepEqual(Object.keys(roles).sort(), ['disk', 'worker']);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ok', checks: { store: 'ok' } });
  } finally {
    await slipway.stop();
    await tmp.cleanup();
  }
});
