import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isFingerprinted } from '../../src/edge/index.js';
import { FRAMEWORKS } from '../../src/frameworks/index.js';
import { normaliseHost, requestPath } from '../../src/edge/path.js';
import { ACCEPT_BR, ACCEPT_GZIP, acceptedEncodings, etagMatches, parseRange } from '../../src/edge/negotiate.js';
import { BlobCache } from '../../src/edge/blob-cache.js';

describe('requestPath', () => {
  it('keeps plain paths, drops the query, decodes once', () => {
    assert.equal(requestPath('/'), '/');
    assert.equal(requestPath('/a/b.html?x=1#y'), '/a/b.html');
    assert.equal(requestPath('/caf%C3%A9'), '/café');
    assert.equal(requestPath('/%252e%252e/'), '/%2e%2e/');
    assert.equal(requestPath('/.well-known/x'), '/.well-known/x');
    assert.equal(requestPath('/a..b/c'), '/a..b/c');
  });
  it('rejects what no manifest key can be', () => {
    for (const target of ['', 'a', '*', '/..', '/../x', '/a/..', '/./a', '/%2e%2e/x', '/..%2f', '/a\\b', '/%5c', '/%00', '/%', '/%g0', '/%ff', '/a b', `/${'x'.repeat(2048)}`]) {
      assert.equal(requestPath(target), undefined, target);
    }
  });
});

describe('normaliseHost', () => {
  it('lower-cases and strips port and trailing dot', () => {
    assert.equal(normaliseHost('Blog.Example.COM:8080'), 'blog.example.com');
    assert.equal(normaliseHost('pr-12--site.localhost.'), 'pr-12--site.localhost');
    assert.equal(normaliseHost('[::1]:3000'), '[::1]');
    assert.equal(normaliseHost('127.0.0.1'), '127.0.0.1');
  });
  it('rejects junk', () => {
    for (const host of ['', ':80', 'a b', 'a/b', 'x:port', '[::1', 'a..b', '-', 'a<script>']) assert.equal(normaliseHost(host), undefined, host);
  });
});

describe('isFingerprinted (immutable caching)', () => {
  const rules = (id: string) => FRAMEWORKS.find((row) => row.id === id)!.immutable;

  it('accepts the folders a framework row names, under that row only', () => {
    const yes: [string, string][] = [
      ['astro', '_astro/anything.css'],
      ['nextjs', '_next/static/chunks/main.js'],
      ['nextjs', '_next/static/BUILD_ID/_buildManifest.js'],
      ['sveltekit', '_app/immutable/entry/start.js'],
      ['nuxt', '_nuxt/entry.abc123.js'],
      ['nuxt', '_nuxt/Cv2Xk1.css'],
      ['gatsby', 'static/d4b5/logo.png'],
      ['qwik', 'build/q-abc.js'],
      ['expo', '_expo/static/js/web/entry.js'],
      ['solidstart', '_build/assets/client.js'],
      ['vite', 'assets/vendor-abcd1234.js'],
      ['vite', 'assets/logo-DzQx7k2L.svg'],
      ['docusaurus', 'assets/js/main.0b1c2d3e.js'],
      ['angular', 'main-2OBYZ2TY.js'],
      ['angular', 'media/font-ABCD2345.woff2'],
    ];
    for (const [id, path] of yes) {
      assert.equal(isFingerprinted(path, rules(id)), true, `${id}: ${path}`);
      if (!path.startsWith('assets/')) assert.equal(isFingerprinted(path, rules('static')), false, `not without the ${id} row: ${path}`);
    }
  });
  it('keeps what a framework names by a fixed name revalidating, even in its folder', () => {
    assert.equal(isFingerprinted('_nuxt/builds/latest.json', rules('nuxt')), false);
    assert.equal(isFingerprinted('_nuxt/builds/meta/abc.json', rules('nuxt')), false);
    assert.equal(isFingerprinted('index.html', rules('angular')), false);
    assert.equal(isFingerprinted('favicon.ico', rules('angular')), false);
    assert.equal(isFingerprinted('logo-Version2.png', rules('angular')), false);
    assert.equal(isFingerprinted('assets/style.css', rules('vite')), false);
    assert.equal(isFingerprinted('page-data/index/page-data.json', rules('gatsby')), false);
  });
  it('accepts content-hashed names on any site', () => {
    const yes = [
      'assets/index-BxK2_a9Z.css',
      'app.3f9a1c2b.js',
      'static/js/main.3f9a1c2b.chunk.js',
      'static/js/787.8f3e2d1c.js.map',
      'index-BxK2_a9Z.css',
      'img/photo.a1b2c3d4e5f6.jpg',
      '3f9a1c2b4d5e6f70.js',
    ];
    for (const path of yes) assert.equal(isFingerprinted(path), true, path);
  });
  it('leaves hand-named files revalidating (false positives are the costly mistake)', () => {
    const no = [
      'index.html',
      'about.html',
      'assets/style.css',
      'assets/logo.png',
      'assets/app-settings.js',
      'assets/vendor-abcdefgh.js',
      'js/app-settings.js',
      'jquery-3.7.1.min.js',
      'react-dom.production.min.js',
      'img/banner-Summer24.jpg',
      'img/logo-Version2.png',
      'img/image-1920x1080.jpg',
      'files/report-20240101.pdf',
      'app.deadbeef.js',
      'fonts/roboto-v30-latin-regular.woff2',
      'abcdef12',
      'next/static/x.js',
      'docs/_astro.html',
      '_astro/anything.css',
      '_nuxt/entry.js',
    ];
    for (const path of no) assert.equal(isFingerprinted(path), false, path);
  });
});

describe('negotiation helpers', () => {
  it('parses Accept-Encoding with q-values and *', () => {
    assert.equal(acceptedEncodings(undefined), 0);
    assert.equal(acceptedEncodings('gzip, deflate, br'), ACCEPT_GZIP | ACCEPT_BR);
    assert.equal(acceptedEncodings('gzip;q=0.5, br;q=0'), ACCEPT_GZIP);
    assert.equal(acceptedEncodings('*'), ACCEPT_GZIP | ACCEPT_BR);
    assert.equal(acceptedEncodings('*;q=0.1, gzip;q=0'), ACCEPT_BR);
    assert.equal(acceptedEncodings('identity'), 0);
    assert.equal(acceptedEncodings('BR'), ACCEPT_BR);
  });
  it('matches If-None-Match weakly', () => {
    assert.equal(etagMatches('"a"', '"a"'), true);
    assert.equal(etagMatches('W/"a"', '"a"'), true);
    assert.equal(etagMatches('"b", W/"a"', '"a"'), true);
    assert.equal(etagMatches('"b"', '"a"'), false);
  });
  it('parses single byte ranges', () => {
    assert.deepEqual(parseRange('bytes=0-0', 10), { start: 0, end: 0 });
    assert.deepEqual(parseRange('bytes=5-', 10), { start: 5, end: 9 });
    assert.deepEqual(parseRange('bytes=-4', 10), { start: 6, end: 9 });
    assert.deepEqual(parseRange('bytes=8-99', 10), { start: 8, end: 9 });
    assert.equal(parseRange('bytes=10-', 10), 'unsatisfiable');
    assert.equal(parseRange('bytes=-0', 10), 'unsatisfiable');
    assert.equal(parseRange('bytes=0-', 0), 'unsatisfiable');
    assert.equal(parseRange('bytes=0-1,3-4', 10), 'ignore');
    assert.equal(parseRange('bytes=-', 10), 'ignore');
    assert.equal(parseRange('lines=1-2', 10), 'ignore');
  });
});

describe('BlobCache', () => {
  it('evicts the least recently used blobs to stay within its byte budget', () => {
    const cache = new BlobCache(100);
    const a = cache.set('a', Buffer.alloc(40));
    const b = cache.set('b', Buffer.alloc(40));
    assert.ok(a !== undefined && b !== undefined);
    cache.touch(a); // b is now the least recently used
    cache.set('c', Buffer.alloc(40));
    assert.equal(b.bytes, undefined);
    assert.notEqual(a.bytes, undefined);
    assert.equal(cache.get('b'), undefined);
    assert.equal(cache.bytesUsed, 80);
    assert.equal(cache.set('huge', Buffer.alloc(101)), undefined);
    assert.equal(cache.bytesUsed, 80);
  });
});
