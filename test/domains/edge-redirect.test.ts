import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { EdgeServer, ResolvedHost, SiteLookup } from '../../src/edge/index.js';
import { blobFixture, get, listenEdge, makeDeployment, type EdgeFixture } from '../edge/helpers.js';

// A host that turns from a deployment into a redirect domain and back, in one edge process
// (the store-backed edges do the same on each alias-generation change).
let fixture: EdgeFixture;
let edge: EdgeServer;
let port: number;
let manifestHash: string;
const table = new Map<string, ResolvedHost>();
let generation = 0;

before(async () => {
  fixture = await blobFixture();
  manifestHash = (await makeDeployment(fixture.blobs, { 'index.html': '<h1>served</h1>' })).manifestHash;
  const lookup: SiteLookup = { resolveHost: (host) => Promise.resolve(table.get(host)), aliasGeneration: () => Promise.resolve(generation) };
  ({ edge, port } = await listenEdge({ lookup, blobs: fixture.blobs, pollMs: 5 }));
});

after(async () => {
  await edge?.close();
  await fixture?.cleanup();
});

function set(host: string, to: ResolvedHost | undefined): void {
  if (to === undefined) table.delete(host);
  else table.set(host, to);
  generation++;
}

async function until(what: string, fn: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!(await fn())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a cached host switches between its deployment and a redirect, and a removed redirect is unknown', async () => {
  const host = 'www.example.com';
  set(host, { deploymentId: 'd1', manifestHash });
  assert.equal((await get(port, host, '/')).status, 200);

  set(host, { settings: { redirect: { to: 'example.com', status: 301 } } });
  await until('the redirect', async () => (await get(port, host, '/')).status === 301);
  const moved = await get(port, host, '/a%20b/c?q=1&r');
  assert.equal(moved.headers.location, 'http://example.com/a%20b/c?q=1&r');
  assert.equal(moved.headers['cache-control'], 'no-store');

  set(host, { deploymentId: 'd1', manifestHash });
  await until('the deployment again', async () => (await get(port, host, '/')).status === 200);
  assert.match((await get(port, host, '/')).text, /served/);

  set(host, { settings: { redirect: { to: 'example.com', status: 308 } } });
  await until('the 308', async () => (await get(port, host, '/')).status === 308);
  set(host, { settings: { redirect: { to: 'example.org', status: 308 } } });
  await until('the new target', async () => (await get(port, host, '/')).headers.location === 'http://example.org/');
  set(host, undefined);
  await until('the host to be unknown', async () => (await get(port, host, '/')).status === 404);
});

test('an absolute-form request to a redirect domain keeps its path and query', async () => {
  set('old.example.com', { settings: { redirect: { to: 'new.example.com', status: 308 } } });
  const res = await get(port, 'old.example.com', 'http://old.example.com/p?x=1');
  assert.equal(res.status, 308);
  assert.equal(res.headers.location, 'http://new.example.com/p?x=1');
});
