import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBind, type RunningBind } from '../helpers/bind.js';
import { makeRepo } from '../helpers/git.js';
import { tempDir } from '../helpers/paths.js';
import { edgeGet, startSlipwayProcess, waitForStatus, type RunningSlipway } from '../helpers/slipway.js';

// Custom domains through the default multi-process edge (two worker processes, each polling the
// store): a real `slipway up`, a real build, requests by Host over sockets, DNS from a real BIND.
// Started without --public-ip: DNS is right when a name resolves to an address of this machine.
let dir: Awaited<ReturnType<typeof tempDir>>;
let dns: RunningBind | undefined;
let slipway: RunningSlipway;
let deploymentId: string;
let skip: string | false = false;

before(async () => {
  dir = await tempDir();
  try {
    dns = await startBind([
      {
        name: 'example.test',
        records: [
          { name: 'shop', type: 'A', value: '127.0.0.1' },
          { name: 'elsewhere', type: 'A', value: '192.0.2.1' },
        ],
      },
    ]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    skip = 'named (BIND 9) is not installed';
    console.log(`# skipping: ${skip}`);
    return;
  }
  slipway = await startSlipwayProcess(join(dir.path, 'data'), ['--edge-workers', '2'], { SLIPWAY_DNS_SERVERS: dns.address, SLIPWAY_HTTPS_PORT: 'off', SLIPWAY_ACME_DIRECTORY: 'off' });
  const repo = await makeRepo(join(dir.path, 'repo'));
  await repo.commit({ 'index.html': '<h1>the shop</h1>', 'about.html': '<h1>about the shop</h1>' }, 'first');
  await repo.push();
  for (const name of ['shop', 'empty']) assert.equal((await slipway.api('POST', '/api/v1/projects', { name, repoUrl: repo.url })).status, 201);
  const created = await slipway.api('POST', '/api/v1/projects/shop/deployments', {});
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const d = await waitForStatus(slipway, created.body.id, ['ready', 'failed']);
  assert.equal(d.status, 'ready', JSON.stringify(d.error));
  deploymentId = d.id;
});

after(async () => {
  await slipway?.stop();
  await dns?.close();
  await dir?.cleanup();
});

const domains = (project: string, path = '') => `/api/v1/projects/${project}/domains${path}`;

/**
 * `count` requests at once, each on its own connection, so that both edge processes (which
 * take connections from one listening socket) answer some; their statuses.
 */
async function statuses(host: string, count = 10, path = '/'): Promise<number[]> {
  return Promise.all(Array.from({ length: count }, () => edgeGet(slipway.edgePort, host, path).then((r) => r.status)));
}

/** ms until `count` fresh requests in a row all answer `status` (fails after 5 s) */
async function msUntilAll(host: string, status: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const seen = await statuses(host);
    if (seen.every((s) => s === status)) return Date.now() - started;
    if (Date.now() - started > 5000) assert.fail(`${host} still answers ${seen.join(',')} after 5 s, expected ${status}`);
  }
}

test('a custom domain serves the production deployment on every edge process within 1 s, and is gone within 1 s of its removal', { skip }, async () => {
  // asked before it exists: an unknown host (and a remembered miss in each process)
  assert.deepEqual(await statuses('shop.example.test', 4), [404, 404, 404, 404]);
  const added = await slipway.api('POST', domains('shop'), { name: 'Shop.Example.Test' });
  assert.equal(added.status, 201);
  // no --public-ip: resolving to 127.0.0.1, an address of this machine, is right
  assert.equal(added.body.status, 'active', JSON.stringify(added.body));
  assert.equal(added.body.dns.anyOne, true);
  const servedAfter = await msUntilAll('shop.example.test', 200);
  assert.ok(servedAfter < 1000, `served after ${servedAfter} ms`);
  const page = await edgeGet(slipway.edgePort, 'SHOP.example.test:8080', '/about');
  assert.equal(page.status, 200);
  assert.match(page.text, /about the shop/);
  assert.equal(page.headers['x-slipway-deployment'], deploymentId);

  assert.equal((await slipway.api('DELETE', domains('shop', '/shop.example.test'))).status, 204);
  const goneAfter = await msUntilAll('shop.example.test', 404);
  assert.ok(goneAfter < 1000, `still served ${goneAfter} ms after removal`);
  // the project's own host is untouched
  assert.equal((await edgeGet(slipway.edgePort, 'shop.localhost', '/')).status, 200);
});

test('a domain whose DNS is not right yet is served all the same to whoever reaches the edge', { skip }, async () => {
  const added = await slipway.api('POST', domains('shop'), { name: 'elsewhere.example.test' });
  assert.equal(added.body.status, 'pending-dns');
  assert.match(added.body.statusDetail, /192\.0\.2\.1 is not an address of this machine/);
  await msUntilAll('elsewhere.example.test', 200);
  assert.equal((await edgeGet(slipway.edgePort, 'elsewhere.example.test')).headers['x-slipway-deployment'], deploymentId);
});

test('a wildcard domain serves every name one level under it; an exact domain wins over it', { skip }, async () => {
  assert.equal((await slipway.api('POST', domains('shop'), { name: '*.wild.example.test' })).status, 201);
  await msUntilAll('a.wild.example.test', 200);
  for (const host of ['b.wild.example.test', 'xn--bcher-kva.wild.example.test']) {
    const res = await edgeGet(slipway.edgePort, host, '/about');
    assert.equal(res.status, 200, host);
    assert.match(res.text, /about the shop/);
  }
  // neither the parent itself nor two levels down
  assert.equal((await edgeGet(slipway.edgePort, 'wild.example.test')).status, 404);
  assert.equal((await edgeGet(slipway.edgePort, 'x.y.wild.example.test')).status, 404);

  // another project may own one name under the wildcard: that name is its own
  assert.equal((await slipway.api('POST', domains('empty'), { name: 'special.wild.example.test', redirectTo: 'shop.localhost' })).status, 201);
  await msUntilAll('special.wild.example.test', 308);
  assert.equal((await edgeGet(slipway.edgePort, 'other.wild.example.test')).status, 200);
});

test('a redirect domain redirects with path and query kept, even for a project with nothing deployed', { skip }, async () => {
  const added = await slipway.api('POST', domains('empty'), { name: 'www.example.test', redirectTo: 'Example.test' });
  assert.equal(added.status, 201);
  await msUntilAll('www.example.test', 308);
  const res = await edgeGet(slipway.edgePort, 'www.example.test', '/shop/cart?item=42&size=m');
  assert.equal(res.status, 308);
  assert.equal(res.headers.location, 'http://example.test/shop/cart?item=42&size=m');
  const head = await edgeGet(slipway.edgePort, 'www.example.test', '/x?y', {}, 'HEAD');
  assert.equal(head.status, 308);
  assert.equal(head.headers.location, 'http://example.test/x?y');
  // a POST is redirected as well (308 keeps the method)
  const post = await edgeGet(slipway.edgePort, 'www.example.test', '/form', {}, 'POST');
  assert.equal(post.status, 308);
  assert.equal(post.headers.location, 'http://example.test/form');

  const temporary = await slipway.api('POST', domains('empty'), { name: 'old.example.test', redirectTo: 'shop.localhost', redirectStatus: 302 });
  assert.equal(temporary.status, 201);
  await msUntilAll('old.example.test', 302);
  assert.equal((await edgeGet(slipway.edgePort, 'old.example.test', '/about')).headers.location, 'http://shop.localhost/about');

  // removing it stops the redirect on every process
  assert.equal((await slipway.api('DELETE', domains('empty', '/www.example.test'))).status, 204);
  const goneAfter = await msUntilAll('www.example.test', 404);
  assert.ok(goneAfter < 1000, `still redirected ${goneAfter} ms after removal`);
});
