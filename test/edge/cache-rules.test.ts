import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { packageOutput } from '../../src/artifact/index.js';
import { createMemoryLookup, type EdgeServer } from '../../src/edge/index.js';
import { detectFramework } from '../../src/frameworks/index.js';
import { parseManifest } from '../../src/manifest/index.js';
import { fixturesDir, tempDir } from '../helpers/paths.js';
import { blobFixture, get, listenEdge, type EdgeFixture } from './helpers.js';

const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'public, max-age=0, must-revalidate';

/*
 * The immutable rule is data: the framework row's fingerprinted folders go into the manifest
 * when the deployment is packaged, and the edge applies them without knowing any framework.
 */
describe('Cache-Control from the framework row, through the edge', () => {
  let fixture: EdgeFixture;
  let out: Awaited<ReturnType<typeof tempDir>>;
  let edge: EdgeServer;
  let port: number;

  /** a built site's files, packaged as the worker does, with the rules of `fixture`'s framework */
  async function deploy(name: string, framework: string | undefined, files: Record<string, string>): Promise<string> {
    const dir = join(out.path, name);
    for (const [path, body] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), body);
    }
    const immutable = framework === undefined ? undefined : (await detectFramework(join(fixturesDir, framework))).immutable;
    const { manifestHash } = await packageOutput({ outputDir: dir, blobs: fixture.blobs, log: () => {}, immutable });
    return manifestHash;
  }

  const nuxtFiles = { 'index.html': '<h1>nuxt</h1>', '_nuxt/entry.abc123.js': 'export {}', '_nuxt/builds/latest.json': '{"id":"1"}', 'favicon.ico': 'ico' };

  before(async () => {
    fixture = await blobFixture();
    out = await tempDir('slipway-cache-rules-');
    const nuxt = await deploy('nuxt', 'fw-nuxt-generate', nuxtFiles);
    // the same files packaged without a framework row (a plain static site): no folder is special
    const plain = await deploy('plain', undefined, nuxtFiles);
    const angular = await deploy('angular', 'fw-angular', { 'index.html': '<h1>ng</h1>', 'main-2OBYZ2TY.js': 'x', 'logo-Version2.png': 'png' });
    const lookup = createMemoryLookup({
      'nuxt.localhost': { deploymentId: 'dpl_nuxt', manifestHash: nuxt },
      'plain.localhost': { deploymentId: 'dpl_plain', manifestHash: plain },
      'ng.localhost': { deploymentId: 'dpl_ng', manifestHash: angular },
    });
    ({ edge, port } = await listenEdge({ lookup, blobs: fixture.blobs }));
  });

  after(async () => {
    await edge.close();
    await fixture.cleanup();
    await out.cleanup();
  });

  it('a Nuxt deployment: /_nuxt/ files are immutable, pages and the build manifest revalidate', async () => {
    const asset = await get(port, 'nuxt.localhost', '/_nuxt/entry.abc123.js');
    assert.equal(asset.status, 200);
    assert.equal(asset.headers['cache-control'], IMMUTABLE);
    for (const path of ['/', '/index.html', '/_nuxt/builds/latest.json', '/favicon.ico']) {
      const reply = await get(port, 'nuxt.localhost', path);
      assert.equal(reply.status, 200, path);
      assert.equal(reply.headers['cache-control'], REVALIDATE, path);
    }
    // a 304 carries the same rule
    const again = await get(port, 'nuxt.localhost', '/_nuxt/entry.abc123.js', { headers: { 'if-none-match': String(asset.headers.etag) } });
    assert.equal(again.status, 304);
    assert.equal(again.headers['cache-control'], IMMUTABLE);
  });

  it('the same files without the row: entry.abc123.js is not a hash the edge would guess', async () => {
    assert.equal((await get(port, 'plain.localhost', '/_nuxt/entry.abc123.js')).headers['cache-control'], REVALIDATE);
  });

  it("an Angular deployment: esbuild's hashed names at the root are immutable, the user's files are not", async () => {
    assert.equal((await get(port, 'ng.localhost', '/main-2OBYZ2TY.js')).headers['cache-control'], IMMUTABLE);
    assert.equal((await get(port, 'ng.localhost', '/logo-Version2.png')).headers['cache-control'], REVALIDATE);
    assert.equal((await get(port, 'ng.localhost', '/')).headers['cache-control'], REVALIDATE);
  });

  it('the rules are recorded in the manifest, and a malformed rule list is refused', async () => {
    const manifest = parseManifest(JSON.stringify({ version: 1, files: {}, immutable: [{ prefix: '_nuxt/', names: 'all', except: ['_nuxt/builds/'] }] }));
    assert.deepEqual(manifest.immutable, [{ prefix: '_nuxt/', names: 'all', except: ['_nuxt/builds/'] }]);
    for (const immutable of [{}, [{ prefix: '/abs/', names: 'all' }], [{ prefix: 'x/', names: 'everything' }], [{ prefix: 'x/', names: 'all', except: [1] }]]) {
      assert.throws(() => parseManifest(JSON.stringify({ version: 1, files: {}, immutable })), /immutable/, JSON.stringify(immutable));
    }
  });
});
