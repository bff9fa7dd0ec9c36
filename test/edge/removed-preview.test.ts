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

// A preview alias that is removed (its pull request closed, its branch deleted) leaves the
// host with no deployment at all, not another one: the edge must then answer 404 and stop the
// SSR server it started for that host, as it does for a deployment an alias moved away from.
let tmp: Awaited<ReturnType<typeof tempDir>>;
let blobs: LocalBlobStore;
let manifestHash: string;

before(async () => {
  tmp = await tempDir();
  blobs = new LocalBlobStore(join(tmp.path, 'blobs'));
  manifestHash = await packageSsrSite(tmp.path, blobs);
});

after(() => tmp.cleanup());

function get(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

test("a removed preview's host answers 404 and its server process stops; production's keeps running", async () => {
  const preview = 'pr-7--site.localhost';
  const lookup = createMemoryLookup({ [preview]: { deploymentId: 'dpreview', manifestHash }, 'site.localhost': { deploymentId: 'dprod', manifestHash } });
  const { gateway, runtime } = createRuntimeGateway(blobs, join(tmp.path, 'data'), { memoryMb: 0, requestTimeoutMs: 10_000, idleMs: 600_000 });
  const edge = createEdgeServer({ lookup, blobs, servers: gateway, drainGraceMs: 500, standbyMs: 200, pollMs: 60_000 });
  await new Promise<void>((resolve) => edge.server.listen(0, '127.0.0.1', resolve));
  const port = (edge.server.address() as AddressInfo).port;
  const pid = (id: string) => runtime.status().find((s) => s.deploymentId === id && s.state === 'running')?.pid;
  try {
    assert.equal(await get(port, preview), 200);
    assert.equal(await get(port, 'site.localhost'), 200);
    const server = pid('dpreview');
    assert.ok(server !== undefined && isAlive(server));

    lookup.set(preview, undefined);
    await edge.refresh();
    assert.equal(await get(port, preview), 404);
    await until(() => !isAlive(server), 5000, "the removed preview's server to stop");
    assert.ok(pid('dprod') !== undefined, "production's server is untouched");
    assert.equal(await get(port, 'site.localhost'), 200);
  } finally {
    await edge.close();
    await runtime.close();
  }
});
