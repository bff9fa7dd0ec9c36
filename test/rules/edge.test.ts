import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sha256 } from '../../src/blobs/index.js';
import { createMemoryLookup, type EdgeServer } from '../../src/edge/index.js';
import type { SiteRules } from '../../src/manifest/index.js';
import { parseHeaders, parseRedirects, vercelRules } from '../../src/rules/index.js';
import { blobFixture, get, listenEdge, makeDeployment, type EdgeFixture } from '../edge/helpers.js';

/*
 * The rules through a real edge over real sockets: each documented behaviour of vercel.json and
 * of _redirects/_headers, as the status, Location, headers and body a client gets.
 */

const VERCEL = {
  cleanUrls: true,
  redirects: [
    { source: '/old/:slug', destination: '/new/:slug', permanent: true },
    { source: '/temp', destination: '/about', permanent: false },
    { source: '/legacy/(.*)', destination: '/posts/$1', statusCode: 301 },
    { source: '/beta', destination: '/about', permanent: false, has: [{ type: 'cookie', key: 'beta', value: 'yes' }] },
    { source: '/go', destination: '/posts/:id', permanent: false, has: [{ type: 'query', key: 'id', value: '(?<id>\\d+)' }] },
    { source: '/hdr', destination: '/about', permanent: false, missing: [{ type: 'header', key: 'X-Skip' }] },
    { source: '/host-only', destination: '/about', permanent: false, has: [{ type: 'host', value: 'www\\.example\\.com' }] },
    { source: '/r/(.*)', destination: '/$1', permanent: false },
  ],
  rewrites: [
    { source: '/blog/:slug', destination: '/posts/:slug' },
    { source: '/app.js', destination: '/index.html' },
    { source: '/docs/:path*', destination: '/missing/:path*' },
    { source: '/ext/:path*', destination: 'https://127.0.0.1:1/:path*' },
    { source: '/chain/:x', destination: '/step/:x' },
    { source: '/step/:x', destination: '/posts/:x' },
  ],
  headers: [
    { source: '/(.*)', headers: [{ key: 'X-Frame-Options', value: 'DENY' }] },
    {
      source: '/posts/:slug',
      headers: [
        { key: 'X-Post', value: ':slug' },
        { key: 'Cache-Control', value: 'public, max-age=60' },
      ],
    },
  ],
};

const REDIRECTS = `# moved pages
/home              /                       301
/old/*             /new/:splat             302
/news/:year/:slug  /articles/:slug?y=:year 301!

/store id=:id      /blog/:id               301
/about             /elsewhere              301
/style.css         /about.html             200!
/gone              /missing-page.html      404
/api/*             https://127.0.0.1:9/:splat 200
/app/*             /index.html             200
`;
const HEADERS = `/*
  X-Frame-Options: DENY
/shop/*
  X-Shop: one
  X-Shop: two
`;

const FILES = {
  'index.html': '<h1>home</h1>',
  'about.html': '<h1>about</h1>',
  'posts/hello.html': '<h1>hello post</h1>',
  'app.js': 'console.log(1)',
  '404.html': '<h1>site 404</h1>',
  'missing-page.html': '<h1>gone for good</h1>',
  'shop/item.html': '<h1>item</h1>',
  'style.css': 'body{}',
};

describe('site rules at the edge', () => {
  let fx: EdgeFixture;
  let edge: EdgeServer;
  let port: number;
  const lookup = createMemoryLookup();

  async function deploy(host: string, rules: SiteRules, settings?: { externalRewrites?: boolean }) {
    const { manifest } = await makeDeployment(fx.blobs, FILES);
    const json = Buffer.from(JSON.stringify({ ...manifest, rules }));
    await fx.blobs.put(sha256(json), json);
    lookup.set(host, { deploymentId: `dpl-${host.split('.')[0]}`, manifestHash: sha256(json), ...(settings === undefined ? {} : { settings }) });
  }

  before(async () => {
    fx = await blobFixture();
    await deploy('vercel.localhost', vercelRules(JSON.stringify(VERCEL))!);
    await deploy('www.example.com', vercelRules(JSON.stringify(VERCEL))!);
    await deploy('allowed.localhost', vercelRules(JSON.stringify(VERCEL))!, { externalRewrites: true });
    await deploy('plain-rules.localhost', vercelRules(JSON.stringify({ redirects: VERCEL.redirects.slice(0, 3), headers: VERCEL.headers }))!);
    await deploy('slash.localhost', vercelRules(JSON.stringify({ trailingSlash: true }))!);
    await deploy('netlify.localhost', { platform: 'netlify', routes: [...parseRedirects(REDIRECTS), ...parseHeaders(HEADERS)] });
    ({ edge, port } = await listenEdge({ lookup, blobs: fx.blobs, log: () => {} }));
  });
  after(async () => {
    await edge.close();
    await fx.cleanup();
  });

  const v = (path: string, headers: Record<string, string> = {}) => get(port, 'vercel.localhost', path, { headers });
  const n = (path: string, headers: Record<string, string> = {}) => get(port, 'netlify.localhost', path, { headers });

  describe('vercel.json', () => {
    it('redirects with 308 for permanent, 307 for temporary, or the statusCode, substituting :params and (.*) groups', async () => {
      const permanent = await v('/old/abc');
      assert.equal(permanent.status, 308);
      assert.equal(permanent.headers.location, '/new/abc');
      assert.equal((await v('/temp')).status, 307);
      const legacy = await v('/legacy/a/b');
      assert.equal(legacy.status, 301);
      assert.equal(legacy.headers.location, '/posts/a/b');
      assert.equal(legacy.headers['x-frame-options'], undefined, 'header rules come after redirects in Vercel order');
    });
    it('passes the query string on to the redirect target', async () => {
      assert.equal((await v('/old/abc?x=1&y=2')).headers.location, '/new/abc?x=1&y=2');
    });
    it('keeps a path destination a path, whatever the request put in its groups', async () => {
      const res = await v('/r//evil.example/x');
      assert.equal(res.status, 307);
      assert.equal(res.headers.location, '/evil.example/x', 'not "//evil.example/x", which a browser reads as another host');
    });
    it('applies has and missing conditions on cookies, query, headers and host', async () => {
      assert.equal((await v('/beta', { cookie: 'a=b; beta=yes' })).status, 307);
      assert.equal((await v('/beta', { cookie: 'beta=no' })).status, 404);
      const go = await v('/go?id=42');
      assert.equal(go.status, 307);
      assert.equal(go.headers.location, '/posts/42?id=42', 'a named group of a has value fills the destination');
      assert.equal((await v('/go?id=abc')).status, 404);
      assert.equal((await v('/hdr')).status, 307);
      assert.equal((await v('/hdr', { 'x-skip': '1' })).status, 404);
      assert.equal((await v('/host-only')).status, 404);
      assert.equal((await get(port, 'www.example.com', '/host-only')).status, 307);
    });
    it('redirects .html and /index to clean URLs (cleanUrls) and serves the clean URL', async () => {
      const html = await v('/about.html');
      assert.equal(html.status, 308);
      assert.equal(html.headers.location, '/about');
      const clean = await v('/about');
      assert.equal(clean.status, 200);
      assert.equal(clean.text, '<h1>about</h1>');
    });
    it("adds headers from every matching rule, replacing the file's own of the same name, on 200 and 304", async () => {
      const post = await v('/posts/hello');
      assert.equal(post.status, 200);
      assert.equal(post.headers['x-frame-options'], 'DENY');
      assert.equal(post.headers['x-post'], 'hello');
      assert.equal(post.headers['cache-control'], 'public, max-age=60');
      const again = await v('/posts/hello', { 'if-none-match': String(post.headers.etag) });
      assert.equal(again.status, 304);
      assert.equal(again.headers['x-post'], 'hello');
    });
    it('rewrites after the files: an existing file wins, a rewrite serves its target, chained rewrites see the rewritten path', async () => {
      const js = await v('/app.js');
      assert.equal(js.text, 'console.log(1)');
      const blog = await v('/blog/hello');
      assert.equal(blog.status, 200);
      assert.equal(blog.text, '<h1>hello post</h1>');
      assert.equal(blog.headers['x-post'], undefined, 'headers match the path asked for, not the rewritten one');
      assert.equal(blog.headers['x-frame-options'], 'DENY');
      assert.equal((await v('/chain/hello')).text, '<h1>hello post</h1>');
    });
    it("answers a rewrite to nothing with the site's 404 page and its headers", async () => {
      const missing = await v('/docs/a/b');
      assert.equal(missing.status, 404);
      assert.equal(missing.text, '<h1>site 404</h1>');
      assert.equal(missing.headers['x-frame-options'], 'DENY');
    });
    it('refuses an outside rewrite unless the project allows it, and never proxies to a loopback address', async () => {
      const refused = await v('/ext/x');
      assert.equal(refused.status, 502);
      assert.match(refused.text, /does not allow rewrites to outside URLs/);
      const loopback = await get(port, 'allowed.localhost', '/ext/x');
      assert.equal(loopback.status, 502);
      assert.match(loopback.text, /127\.0\.0\.1, which is not a public internet address/);
    });
    it('answers a path the same way the second time, when only the path decides (the edge remembers it)', async () => {
      const p = (path: string) => get(port, 'plain-rules.localhost', path);
      for (let i = 0; i < 2; i++) {
        assert.equal((await p('/old/abc')).headers.location, '/new/abc');
        assert.equal((await p(`/old/abc?n=${i}`)).headers.location, `/new/abc?n=${i}`);
        assert.equal((await p('/old/xyz')).headers.location, '/new/xyz');
        const post = await p('/posts/hello');
        assert.equal(post.headers['x-post'], 'hello');
        assert.equal(post.text, '<h1>hello post</h1>');
        assert.equal((await p('/about')).headers['x-post'], undefined);
      }
    });
    it('adds a trailing slash to pages with trailingSlash: true, and serves the page there, but not to files', async () => {
      const s = (path: string) => get(port, 'slash.localhost', path);
      const about = await s('/about');
      assert.equal(about.status, 308);
      assert.equal(about.headers.location, '/about/');
      assert.equal((await s('/about/')).text, '<h1>about</h1>');
      assert.equal((await s('/app.js')).text, 'console.log(1)');
      const slashed = await s('/app.js/');
      assert.equal(slashed.status, 308);
      assert.equal(slashed.headers.location, '/app.js');
    });
    it('answers HEAD with the redirect and no body', async () => {
      const head = await get(port, 'vercel.localhost', '/temp', { method: 'HEAD' });
      assert.equal(head.status, 307);
      assert.equal(head.headers.location, '/about');
      assert.equal(head.body.length, 0);
    });
  });

  describe('_redirects and _headers', () => {
    it("redirects with the rule's status, filling splats and placeholders", async () => {
      const home = await n('/home');
      assert.equal(home.status, 301);
      assert.equal(home.headers.location, '/');
      const old = await n('/old/a/b');
      assert.equal(old.status, 302);
      assert.equal(old.headers.location, '/new/a/b');
      const news = await n('/news/2024/hi/');
      assert.equal(news.headers.location, '/articles/hi?y=2024');
    });
    it('matches query parameters and then does not pass the query on', async () => {
      const store = await n('/store?id=7');
      assert.equal(store.status, 301);
      assert.equal(store.headers.location, '/blog/7');
      assert.equal((await n('/store')).status, 404);
    });
    it('does not shadow an existing file without "!", and does with it (asked twice: the second answer is remembered)', async () => {
      for (let i = 0; i < 2; i++) {
        const about = await n('/about');
        assert.equal(about.status, 200);
        assert.equal(about.text, '<h1>about</h1>');
        assert.equal(about.headers['x-frame-options'], 'DENY');
        const css = await n('/style.css');
        assert.equal(css.status, 200);
        assert.equal(css.text, '<h1>about</h1>');
      }
    });
    it('serves 200 rewrites (a single-page app fallback) and 404 rules with the target as the body', async () => {
      const app = await n('/app/deep/link');
      assert.equal(app.status, 200);
      assert.equal(app.text, '<h1>home</h1>');
      assert.equal(app.headers['x-frame-options'], 'DENY');
      const gone = await n('/gone');
      assert.equal(gone.status, 404);
      assert.equal(gone.text, '<h1>gone for good</h1>');
    });
    it('applies every matching _headers block and joins a header set twice', async () => {
      const item = await n('/shop/item');
      assert.equal(item.text, '<h1>item</h1>');
      assert.equal(item.headers['x-shop'], 'one, two');
      assert.equal(item.headers['x-frame-options'], 'DENY');
      assert.equal((await n('/')).headers['x-shop'], undefined);
    });
    it('refuses a proxied rewrite when the project does not allow outside rewrites', async () => {
      const api = await n('/api/x');
      assert.equal(api.status, 502);
      assert.match(api.text, /does not allow/);
    });
  });

  it('answers a repeated request as it answered the first (outcomes remembered per path, repeats on the fast paths)', async () => {
    const asked: [string, string, Record<string, string>][] = [
      ['plain-rules.localhost', '/', {}],
      ['plain-rules.localhost', '/posts/hello', {}],
      ['plain-rules.localhost', '/old/abc', {}],
      ['plain-rules.localhost', '/app.js', { 'accept-encoding': 'gzip' }],
      ['vercel.localhost', '/posts/hello', {}],
      ['vercel.localhost', '/beta', { cookie: 'beta=yes' }],
      ['vercel.localhost', '/beta', {}],
      ['netlify.localhost', '/shop/item', {}],
      ['netlify.localhost', '/style.css', {}],
      ['netlify.localhost', '/app.js', {}],
      ['netlify.localhost', '/home', {}],
      ['slash.localhost', '/about/', {}],
    ];
    const answer = async (host: string, path: string, headers: Record<string, string>) => {
      const r = await get(port, host, path, { headers });
      const { date: _date, ...rest } = r.headers;
      return { status: r.status, headers: rest, body: r.text };
    };
    for (const [host, path, headers] of asked) {
      const first = await answer(host, path, headers);
      for (let i = 0; i < 3; i++) assert.deepEqual(await answer(host, path, headers), first, `${host}${path} ${JSON.stringify(headers)}, repeat ${i + 1}`);
    }
  });
});
