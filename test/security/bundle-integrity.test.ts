import assert from 'node:assert/strict';
import { chmod, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalBlobStore, sha256, type BlobStore } from '../../src/blobs/index.js';
import { createMemoryLookup } from '../../src/edge/index.js';
import type { ServerBundle } from '../../src/manifest/index.js';
import { Runtime } from '../../src/runtime/index.js';
import { blobFixture, get, listenEdge, makeDeployment } from '../edge/helpers.js';
import { tempDir } from '../helpers/paths.js';
import { get as getServer, packageApp } from '../runtime/helpers.js';

// The other half of "shared writable bytes": what the edge already holds, a blob store with a
// good second copy, and server bundles whose hard-linked blobs change after they were written.

let tmp: Awaited<ReturnType<typeof tempDir>>;
before(async () => {
  tmp = await tempDir('slipway-bundle-integrity-');
});
after(() => tmp.cleanup());

async function tamper(blobs: LocalBlobStore, hash: string, bytes: Buffer): Promise<void> {
  await chmod(blobs.pathOf(hash), 0o644);
  await writeFile(blobs.pathOf(hash), bytes);
}

describe('the edge', () => {
  it('keeps sending the verified copy it holds in memory after the blob changes on disk', async () => {
    const fx = await blobFixture();
    const body = 'console.log("the real app");\n';
    const d = await makeDeployment(fx.blobs, { 'app.js': body });
    const { edge, port } = await listenEdge({ lookup: createMemoryLookup({ 'a.localhost': { deploymentId: 'd1', manifestHash: d.manifestHash } }), blobs: fx.blobs, log: () => {} });
    try {
      assert.equal((await get(port, 'a.localhost', '/app.js')).text, body);
      await tamper(fx.blobs, sha256(body), Buffer.from('console.log("changed app!");\n'));
      const again = await get(port, 'a.localhost', '/app.js');
      assert.equal(again.status, 200);
      assert.equal(sha256(again.body), sha256(body));
    } finally {
      await edge.close();
      await fx.cleanup();
    }
  });

  it('refuses a manifest whose blob changed: 500, the deployment flagged, other sites served', async () => {
    const fx = await blobFixture();
    const bad = await makeDeployment(fx.blobs, { 'index.html': '<p>a</p>' });
    const ok = await makeDeployment(fx.blobs, { 'index.html': '<p>b</p>' });
    const manifest = (await fx.blobs.get(bad.manifestHash))!;
    // the same length, one file pointed elsewhere: a hostile manifest could serve any blob
    await tamper(fx.blobs, bad.manifestHash, Buffer.from(manifest.toString().replace('index.html', 'index.htm_')));
    const flagged: [string, string][] = [];
    const lookup = {
      ...createMemoryLookup({ 'a.localhost': { deploymentId: 'd1', manifestHash: bad.manifestHash }, 'b.localhost': { deploymentId: 'd2', manifestHash: ok.manifestHash } }),
      flagIntegrityError: async (id: string, reason: string) => void flagged.push([id, reason]),
    };
    const { edge, port } = await listenEdge({ lookup, blobs: fx.blobs, log: () => {} });
    try {
      assert.equal((await get(port, 'a.localhost', '/')).status, 500);
      assert.equal((await get(port, 'a.localhost', '/index.htm_')).status, 500);
      assert.equal((await get(port, 'b.localhost', '/')).text, '<p>b</p>');
      assert.equal(flagged.length, 1, 'flagged once');
      assert.equal(flagged[0]![0], 'd1');
      assert.match(flagged[0]![1], new RegExp(`the manifest: expected sha256 ${bad.manifestHash}`));
    } finally {
      await edge.close();
      await fx.cleanup();
    }
  });

  it('reads a blob that did not match once more, and serves it without flagging when the second read is right', async () => {
    const good = await blobFixture();
    const bad = new LocalBlobStore(join(tmp.path, 'corrupt-replica'));
    const body = 'body { color: rebeccapurple }\n';
    const d = await makeDeployment(good.blobs, { 'site.css': body });
    await makeDeployment(bad, { 'site.css': body });
    await tamper(bad, sha256(body), Buffer.from('body { color: #bada55 !important }'));
    // a store whose first answer for a blob comes from a corrupt replica, then from a good one
    const asked = new Set<string>();
    const replicas: BlobStore = {
      has: (h) => good.blobs.has(h),
      put: (h, b) => good.blobs.put(h, b),
      putFile: (h, f) => good.blobs.putFile(h, f),
      stream: (h, r) => good.blobs.stream(h, r),
      list: () => good.blobs.list(),
      delete: (h) => good.blobs.delete(h),
      get: (h) => {
        if (asked.has(h)) return good.blobs.get(h);
        asked.add(h);
        return bad.get(h);
      },
    };
    const logged: string[] = [];
    const flagged: string[] = [];
    const lookup = { ...createMemoryLookup({ 'a.localhost': { deploymentId: 'd1', manifestHash: d.manifestHash } }), flagIntegrityError: async (id: string) => void flagged.push(id) };
    const { edge, port } = await listenEdge({ lookup, blobs: replicas, log: (m) => logged.push(m) });
    try {
      const res = await get(port, 'a.localhost', '/site.css');
      assert.equal(res.status, 200);
      assert.equal(res.text, body);
      assert.ok(
        logged.some((m) => m.includes('d1') && m.includes('site.css') && m.includes('reading it again')),
        logged.join('\n'),
      );
      assert.deepEqual(flagged, []);
    } finally {
      await edge.close();
      await good.cleanup();
    }
  });
});

describe('the runtime', () => {
  it('links only read-only blobs, gives each deployment a writable folder, and refuses to restart on a blob changed since', async () => {
    const blobs = new LocalBlobStore(join(tmp.path, 'blobs'));
    const bundle: ServerBundle = await packageApp(tmp.path, blobs, 'app');
    const logged: string[] = [];
    const flagged: [string, string][] = [];
    const dir = join(tmp.path, 'runtime');
    const runtime = new Runtime({ blobs, dir, log: (m) => logged.push(m), onIntegrityError: (id, reason) => flagged.push([id, reason]) });
    try {
      const first = await runtime.ensure('dok1', bundle, {});
      assert.equal((await getServer(first.port, '/')).status, 200);
      const { dir: bundleDir, dataDir } = await runtime.materialize('dok1', bundle);
      assert.equal(dataDir, join(`${dir}-data`, 'dok1'));
      assert.ok((await stat(dataDir)).isDirectory());
      const linkedPath = 'node_modules/pkg-2/lib/index.js';
      const linked = await stat(join(bundleDir, linkedPath));
      const blobFile = blobs.pathOf(bundle.files[linkedPath]!.hash);
      assert.equal(linked.ino, (await stat(blobFile)).ino, 'node_modules files are still hard links');
      assert.equal(linked.mode & 0o777, 0o444, 'and read-only');
      assert.equal((await stat(join(bundleDir, 'server.mjs'))).mode & 0o222, 0, 'copied files are read-only too');
      await runtime.drain('dok1', 0);

      // rewriting the blob rewrites the linked bundle file: the next start must notice
      const original = bundle.files[linkedPath]!.hash;
      await tamper(blobs, original, Buffer.from('module.exports = require("child_process").execSync("id");\n'));
      await assert.rejects(runtime.ensure('dok1', bundle, {}), (err: Error) => {
        // pkg-2, or a package with the same bytes (one blob, so one inode, for all of them)
        assert.match(err.message, /node_modules\/pkg-\d+\/lib\/index\.js of the server bundle does not match the manifest/);
        assert.ok(err.message.includes(original));
        return true;
      });
      assert.equal(flagged.length, 1);
      assert.equal(flagged[0]![0], 'dok1');
      assert.ok(
        logged.some((m) => m.startsWith('dok1: refusing to start the server:') && m.includes(original)),
        logged.join('\n'),
      );

      // once the blob is repaired, the bundle is written again and its server starts
      await tamper(blobs, original, Buffer.from('module.exports = 2;\n'));
      const repaired = await runtime.ensure('dok1', bundle, {});
      assert.equal((await getServer(repaired.port, '/')).status, 200);
      await runtime.drain('dok1', 0);

      // collecting the unused bundle removes its writable folder with it
      assert.deepEqual(await runtime.collectBundles(0), ['dok1']);
      assert.deepEqual(await readdir(`${dir}-data`), []);
    } finally {
      await runtime.close();
    }
  });
});
