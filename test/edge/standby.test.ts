import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { createEdgeServer, createMemoryLookup } from '../../src/edge/index.js';
import { createRuntimeGateway } from '../../src/runtime/index.js';
import { tempDir } from '../helpers/paths.js';
import { isAlive, packageSsrSite, until } from '../runtime/helpers.js';

// After a move, the replaced deployment's server stays up for a while (standby), so that the
// rollback people do a minute after a bad deploy switches at once instead of cold-starting a
// server; past the standby it is drained and stopped like any server no route points at.
let tmp: Awaited<ReturnType<typeof tempDir>>;
let blobs: LocalBlobStore;
let manifestHash: string;

before(async () => {
  tmp = await tempDir();
  blobs = new LocalBlobStore(join(tmp.path, 'blobs'));
  manifestHash = await packageSsrSite(tmp.path, blobs);
});

after(() => tmp.cleanup());

async function startEdge(standbyMs: number) {
  const lookup = createMemoryLookup({ 'site.localhost': { deploymentId: 'done', manifestHash } });
  const { gateway, runtime } = createRuntimeGateway(blobs, join(tmp.path, `data-${standbyMs}`), { memoryMb: 0, requestTimeoutMs: 10_000, idleMs: 600_000 });
  const edge = createEdgeServer({ lookup, blobs, servers: gateway, drainGraceMs: 1000, standbyMs, pollMs: 60_000 });
  await new Promise<void>((resolve) => edge.server.listen(0, '127.0.0.1', resolve));
  const port = (edge.server.address() as AddressInfo).port;
  const served = () =>
    new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', headers: { host: 'site.localhost' }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve(String(res.headers['x-slipway-deployment'])) : reject(new Error(`HTTP ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end();
    });
  const pid = (id: string) => runtime.status().find((s) => s.deploymentId === id && s.state === 'running')?.pid;
  const move = async (id: string) => {
    lookup.set('site.localhost', { deploymentId: id, manifestHash });
    await edge.refresh();
  };
  return {
    served,
    pid,
    move,
    async close() {
      await edge.close();
      await runtime.close();
    },
  };
}

test('a rollback within the standby switches back to the still-running server, without a new start', async () => {
  const edge = await startEdge(60_000);
  try {
    assert.equal(await edge.served(), 'done');
    const first = edge.pid('done');
    assert.ok(first !== undefined);

    await edge.move('dtwo');
    assert.equal(await edge.served(), 'dtwo');
    assert.equal(edge.pid('done'), first, 'the replaced server is kept on standby');

    await edge.move('done');
    assert.equal(await edge.served(), 'done');
    assert.equal(edge.pid('done'), first, 'the rollback reused the running server: no cold start');
    assert.ok(edge.pid('dtwo') !== undefined, 'and now the other one waits on standby');
  } finally {
    await edge.close();
  }
});

test('past the standby, the replaced server is drained and stopped', async () => {
  const edge = await startEdge(300);
  try {
    assert.equal(await edge.served(), 'done');
    const first = edge.pid('done')!;
    await edge.move('dtwo');
    assert.equal(await edge.served(), 'dtwo');
    await until(() => !isAlive(first), 5000, 'the replaced server to stop');
    assert.ok(edge.pid('dtwo') !== undefined, 'the routed one keeps running');
  } finally {
    await edge.close();
  }
});

test('with standby 0 the replaced server is drained right after the move', async () => {
  const edge = await startEdge(0);
  try {
    assert.equal(await edge.served(), 'done');
    const first = edge.pid('done')!;
    await edge.move('dtwo');
    await until(() => !isAlive(first), 3000, 'the replaced server to stop');
  } finally {
    await edge.close();
  }
});
