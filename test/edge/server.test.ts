import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { sha256 } from '../../src/blobs/index.js';
import { createMemoryLookup, type EdgeServer, type MemoryLookup } from '../../src/edge/index.js';
import { blobFixture, get, listenEdge, makeDeployment, type EdgeFixture } from './helpers.js';

const JS = 'console.log("hello from a fingerprinted asset");\n'.repeat(40);
const ABOUT = '<h1>About</h1>';

describe('edge server', () => {
  let fixture: EdgeFixture;
  let lookup: MemoryLookup;
  let edge: EdgeServer;
  let port: number;
  let blogManifest: Awaited<ReturnType<typeof makeDeployment>>['manifest'];

  before(async () => {
    fixture = await blobFixture();
    const blog = await makeDeployment(fixture.blobs, {
      'index.html': '<h1>Blog home</h1>',
      'about.html': ABOUT,
      'docs/index.html': '<h1>Docs</h1>',
      'guide.html': 'guide.html wins',
      'guide/index.html': 'guide/index.html loses',
      '404.html': '<h1>Blog 404</h1>',
      'assets/index-BxK2_a9Z.js': { body: JS, gzip: true, br: true },
      'data.txt': { body: '0123456789abcdefghij', type: 'text/plain; charset=utf-8' },
      'space name.html': 'spaced',
    });
    blogManifest = blog.manifest;
    const shop = await makeDeployment(fixture.blobs, { 'index.html': '<h1>Shop</h1>' });
    lookup = createMemoryLookup({
      'blog.localhost': { deploymentId: 'dpl_blog1', manifestHash: blog.manifestHash },
      'shop.localhost': { deploymentId: 'dpl_shop1', manifestHash: shop.manifestHash },
    });
    ({ edge, port } = await listenEdge({ lookup, blobs: fixture.blobs }));
  });

  after(async () => {
    await edge.close();
    await fixture.cleanup();
  });

  it('routes by Host: two hosts, two deployments', async () => {
    const blog = await get(port, 'blog.localhost', '/');
    assert.equal(blog.status, 200);
    assert.equal(blog.text, '<h1>Blog home</h1>');
    assert.equal(blog.headers['x-slipway-deployment'], 'dpl_blog1');
    const shop = await get(port, 'shop.localhost', '/');
    assert.equal(shop.text, '<h1>Shop</h1>');
    assert.equal(shop.headers['x-slipway-deployment'], 'dpl_shop1');
  });

  it('ignores case and port in Host', async () => {
    const reply = await get(port, 'Blog.LOCALHOST:8080', '/about');
    assert.equal(reply.status, 200);
    assert.equal(reply.text, ABOUT);
  });

  it('answers an unknown host with a clear 404 page', async () => {
    const reply = await get(port, 'nothing.localhost', '/');
    assert.equal(reply.status, 404);
    assert.match(String(reply.headers['content-type']), /^text\/html/);
    assert.equal(reply.headers['cache-control'], 'no-store');
    assert.match(reply.text, /No site is deployed at <code>nothing\.localhost<\/code>/);
    assert.match(reply.text, /add it to a project/);
    // cached as a miss, still answers the same
    assert.equal((await get(port, 'nothing.localhost', '/x')).status, 404);
  });

  it('rejects a malformed Host with 400', async () => {
    assert.equal((await get(port, 'bad host<script>', '/')).status, 400);
  });

  it('serves index.html for / and dir/index.html for /dir/ and /dir', async () => {
    assert.equal((await get(port, 'blog.localhost', '/docs/')).text, '<h1>Docs</h1>');
    assert.equal((await get(port, 'blog.localhost', '/docs')).text, '<h1>Docs</h1>');
    assert.equal((await get(port, 'blog.localhost', '/index.html')).text, '<h1>Blog home</h1>');
  });

  it('serves clean URLs: /about -> about.html, which wins over about/index.html', async () => {
    assert.equal((await get(port, 'blog.localhost', '/about')).text, ABOUT);
    assert.equal((await get(port, 'blog.localhost', '/about.html')).text, ABOUT);
    assert.equal((await get(port, 'blog.localhost', '/guide')).text, 'guide.html wins');
    assert.equal((await get(port, 'blog.localhost', '/guide/')).text, 'guide/index.html loses');
    assert.equal((await get(port, 'blog.localhost', '/about/')).status, 404);
  });

  it('ignores the query string and decodes percent-encoding', async () => {
    assert.equal((await get(port, 'blog.localhost', '/about?utm=1&x=/../')).text, ABOUT);
    assert.equal((await get(port, 'blog.localhost', '/space%20name.html')).text, 'spaced');
    assert.equal((await get(port, 'blog.localhost', '/%61bout')).text, ABOUT);
  });

  it("serves the site's own 404.html with status 404", async () => {
    const reply = await get(port, 'blog.localhost', '/no/such/page');
    assert.equal(reply.status, 404);
    assert.equal(reply.text, '<h1>Blog 404</h1>');
    assert.equal(reply.headers['cache-control'], 'no-store');
    assert.equal(reply.headers.etag, undefined);
    assert.equal(reply.headers['x-slipway-deployment'], 'dpl_blog1');
  });

  it('serves a plain 404 page when the site has no 404.html', async () => {
    const reply = await get(port, 'shop.localhost', '/missing');
    assert.equal(reply.status, 404);
    assert.match(reply.text, /404 Not Found/);
    assert.equal(reply.headers['cache-control'], 'no-store');
    assert.equal(reply.headers['x-slipway-deployment'], 'dpl_shop1');
  });

  it('sends the manifest Content-Type, Content-Length and the content hash as ETag', async () => {
    const reply = await get(port, 'blog.localhost', '/data.txt');
    assert.equal(reply.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(reply.headers['content-length'], '20');
    assert.equal(reply.headers.etag, `"${sha256('0123456789abcdefghij')}"`);
    assert.equal(reply.headers['accept-ranges'], 'bytes');
    assert.equal(reply.headers.vary, undefined);
  });

  it('answers If-None-Match with 304 (exact, weak, lists, *), and 200 when it differs', async () => {
    const etag = `"${sha256('0123456789abcdefghij')}"`;
    for (const header of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
      const reply = await get(port, 'blog.localhost', '/data.txt', { headers: { 'if-none-match': header } });
      assert.equal(reply.status, 304, header);
      assert.equal(reply.body.length, 0);
      assert.equal(reply.headers.etag, etag);
      assert.equal(reply.headers['x-slipway-deployment'], 'dpl_blog1');
    }
    assert.equal((await get(port, 'blog.localhost', '/data.txt', { headers: { 'if-none-match': '"other"' } })).status, 200);
  });

  it('answers HEAD with the headers and no body', async () => {
    const reply = await get(port, 'blog.localhost', '/data.txt', { method: 'HEAD' });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-length'], '20');
    assert.equal(reply.body.length, 0);
    const missing = await get(port, 'blog.localhost', '/nope', { method: 'HEAD' });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.length, 0);
  });

  it('serves byte ranges: a-b, a-, -n, clamped end', async () => {
    const cases: [string, string, string][] = [
      ['bytes=0-4', '01234', 'bytes 0-4/20'],
      ['bytes=10-', 'abcdefghij', 'bytes 10-19/20'],
      ['bytes=-3', 'hij', 'bytes 17-19/20'],
      ['bytes=15-100', 'fghij', 'bytes 15-19/20'],
      ['bytes=-100', '0123456789abcdefghij', 'bytes 0-19/20'],
    ];
    for (const [range, body, contentRange] of cases) {
      const reply = await get(port, 'blog.localhost', '/data.txt', { headers: { range } });
      assert.equal(reply.status, 206, range);
      assert.equal(reply.text, body, range);
      assert.equal(reply.headers['content-range'], contentRange, range);
      assert.equal(reply.headers['content-length'], String(body.length), range);
      assert.equal(reply.headers['content-type'], 'text/plain; charset=utf-8');
    }
  });

  it('answers an unsatisfiable range with 416 and bytes */size', async () => {
    for (const range of ['bytes=20-', 'bytes=99-120', 'bytes=-0']) {
      const reply = await get(port, 'blog.localhost', '/data.txt', { headers: { range } });
      assert.equal(reply.status, 416, range);
      assert.equal(reply.headers['content-range'], 'bytes */20');
    }
  });

  it('ignores ranges it does not honour and stale If-Range', async () => {
    const ignored: Record<string, string>[] = [{ range: 'bytes=0-1,4-5' }, { range: 'items=0-1' }, { range: 'bytes=5-1' }, { range: 'bytes=0-1', 'if-range': '"old"' }];
    for (const headers of ignored) {
      const reply = await get(port, 'blog.localhost', '/data.txt', { headers });
      assert.equal(reply.status, 200, JSON.stringify(headers));
      assert.equal(reply.text.length, 20);
    }
    const etag = `"${sha256('0123456789abcdefghij')}"`;
    assert.equal((await get(port, 'blog.localhost', '/data.txt', { headers: { range: 'bytes=0-1', 'if-range': etag } })).status, 206);
  });

  it('marks fingerprinted assets immutable and everything else must-revalidate', async () => {
    const asset = await get(port, 'blog.localhost', '/assets/index-BxK2_a9Z.js');
    assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
    for (const path of ['/', '/about', '/data.txt']) {
      assert.equal((await get(port, 'blog.localhost', path)).headers['cache-control'], 'public, max-age=0, must-revalidate', path);
    }
  });

  it('negotiates br > gzip > identity, with Vary and per-variant ETags', async () => {
    const entry = blogManifest.files['assets/index-BxK2_a9Z.js'];
    assert.ok(entry?.br !== undefined && entry.gzip !== undefined);
    const path = '/assets/index-BxK2_a9Z.js';

    const br = await get(port, 'blog.localhost', path, { headers: { 'accept-encoding': 'gzip, deflate, br' } });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(br.headers.vary, 'Accept-Encoding');
    assert.equal(br.headers.etag, `"${entry.br.hash}"`);
    assert.equal(brotliDecompressSync(br.body).toString(), JS);

    const gzip = await get(port, 'blog.localhost', path, { headers: { 'accept-encoding': 'gzip, br;q=0' } });
    assert.equal(gzip.headers['content-encoding'], 'gzip');
    assert.equal(gzip.headers.etag, `"${entry.gzip.hash}"`);
    assert.equal(gunzipSync(gzip.body).toString(), JS);

    const star = await get(port, 'blog.localhost', path, { headers: { 'accept-encoding': '*' } });
    assert.equal(star.headers['content-encoding'], 'br');

    for (const acceptEncoding of [undefined, 'identity', 'deflate', 'gzip;q=0, br;q=0']) {
      const plain = await get(port, 'blog.localhost', path, acceptEncoding === undefined ? {} : { headers: { 'accept-encoding': acceptEncoding } });
      assert.equal(plain.headers['content-encoding'], undefined, acceptEncoding);
      assert.equal(plain.headers.vary, 'Accept-Encoding');
      assert.equal(plain.text, JS);
    }

    // 304 for the variant the client holds
    const notModified = await get(port, 'blog.localhost', path, { headers: { 'accept-encoding': 'br', 'if-none-match': `"${entry.br.hash}"` } });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.vary, 'Accept-Encoding');
  });

  it('serves ranges of compressible files from the identity bytes', async () => {
    const reply = await get(port, 'blog.localhost', '/assets/index-BxK2_a9Z.js', { headers: { 'accept-encoding': 'br, gzip', range: 'bytes=0-6' } });
    assert.equal(reply.status, 206);
    assert.equal(reply.headers['content-encoding'], undefined);
    assert.equal(reply.text, 'console');
  });

  it('answers other methods with 405 and Allow', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
      const reply = await get(port, 'blog.localhost', '/', { method });
      assert.equal(reply.status, 405, method);
      assert.equal(reply.headers.allow, 'GET, HEAD');
    }
  });

  it('accepts an absolute-form target for the same host only', async () => {
    assert.equal((await get(port, 'blog.localhost', 'http://blog.localhost/about')).text, ABOUT);
    assert.equal((await get(port, 'blog.localhost', 'http://shop.localhost/')).status, 400);
    assert.equal((await get(port, 'blog.localhost', 'ftp://blog.localhost/')).status, 400);
  });

  it('sees an alias move through generation polling, without invalidate()', async () => {
    const next = await makeDeployment(fixture.blobs, { 'index.html': '<h1>Shop v2</h1>' });
    assert.equal((await get(port, 'shop.localhost', '/')).text, '<h1>Shop</h1>'); // cached route
    const moved = Date.now();
    lookup.set('shop.localhost', { deploymentId: 'dpl_shop2', manifestHash: next.manifestHash });
    let reply = await get(port, 'shop.localhost', '/');
    while (reply.headers['x-slipway-deployment'] !== 'dpl_shop2' && Date.now() - moved < 1000) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      reply = await get(port, 'shop.localhost', '/');
    }
    assert.equal(reply.text, '<h1>Shop v2</h1>');
    assert.ok(Date.now() - moved < 100, `took ${Date.now() - moved} ms`);
  });
});
