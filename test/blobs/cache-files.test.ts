import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CachedBlobStore } from '../../src/blobs/cache.js';
import { LocalBlobStore, sha256 } from '../../src/blobs/index.js';
import { S3BlobStore } from '../../src/blobs/s3.js';
import type { ServerBundle } from '../../src/manifest/index.js';
import { Runtime } from '../../src/runtime/index.js';
import { tempDir } from '../helpers/paths.js';
import { type RunningS3, startS3rver, useS3rverCredentials } from '../helpers/s3rver.js';
import { get, packageApp, startFront } from '../runtime/helpers.js';

// The bucket as the edge and the runtime see it: through <data-dir>/blob-cache, filled on demand.
let s3: RunningS3;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let bucket: S3BlobStore;
let counter = 0;

before(async () => {
  useS3rverCredentials();
  s3 = await startS3rver();
  tmp = await tempDir('slipway-cache-files-');
  bucket = new S3BlobStore({ bucket: s3.bucket, prefix: `files-${process.pid}/`, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true }, { tmpDir: tmp.path });
});
after(async () => {
  await bucket?.close();
  await s3?.cleanup();
  await tmp?.cleanup();
});

const cacheAt = (dir: string, capBytes = 64 * 1024 * 1024) => new CachedBlobStore(bucket, new LocalBlobStore(dir), capBytes);

describe('CachedBlobStore as a source of local files', () => {
  it('hands out a read-only local file of a blob only the bucket had, fetched once', async () => {
    const bytes = randomBytes(50_000);
    const hash = sha256(bytes);
    await bucket.put(hash, bytes);
    const cache = cacheAt(join(tmp.path, `cache-${++counter}`));
    const [path, again] = await Promise.all([cache.localPath(hash), cache.localPath(hash)]);
    assert.equal(path, again);
    assert.ok(path !== undefined);
    assert.deepEqual(await readFile(path), bytes);
    assert.equal((await stat(path)).mode & 0o777, 0o444, 'read-only, so the runtime may hard-link it');
    assert.equal(cache.fetches, 1);
    assert.equal(await cache.localPath(sha256(Buffer.from('never stored'))), undefined);
  });

  it('processes sharing the directory (edge workers) take what another one fetched without asking the bucket', async () => {
    const bytes = randomBytes(10_000);
    const hash = sha256(bytes);
    await bucket.put(hash, bytes);
    const dir = join(tmp.path, `cache-${++counter}`);
    const first = cacheAt(dir);
    const second = cacheAt(dir);
    await first.get(hash);
    // the second one started before the fill, so it did not see the file at start-up
    assert.deepEqual(await second.get(hash), bytes);
    assert.equal(second.fetches, 0);
    assert.equal(second.cachedBytes, bytes.length, 'and counts it against its cap');
  });

  it('at start a fill left by a dead process is cleared, one another process is writing is not', async () => {
    const dir = join(tmp.path, `cache-${++counter}`);
    await mkdir(dir, { recursive: true });
    const dead = join(dir, `fill-${'a'.repeat(64)}.dead.tmp`);
    const live = join(dir, `fill-${'b'.repeat(64)}.live.tmp`);
    await writeFile(dead, 'half');
    await writeFile(live, 'half');
    const hourAgo = new Date(Date.now() - 60 * 60_000);
    await utimes(dead, hourAgo, hourAgo);
    const cache = cacheAt(dir);
    await cache.has(sha256(Buffer.from('anything')));
    assert.deepEqual((await readdir(dir)).sort(), [basename(live)]);
  });

  it('the runtime starts a server whose bundle only the bucket has, even with a cap far below the bundle', async () => {
    // a worker on another machine packaged it straight into the bucket
    const bundle: ServerBundle = await packageApp(join(tmp.path, `build-${++counter}`), bucket, 'app');
    const bundleBytes = Object.values(bundle.files).reduce((n, f) => n + f.size, 0);
    // a few KB: blobs are evicted while the bundle is still being written, and fetched again
    const cache = cacheAt(join(tmp.path, `cache-${++counter}`), 1024);
    assert.ok(bundleBytes > 4 * 1024, `the bundle (${bundleBytes} bytes) is much larger than the cap`);
    const runtime = new Runtime({ blobs: cache, dir: join(tmp.path, `runtime-${counter}`), log: () => {} });
    const front = await startFront(runtime, () => ({ id: `dpl-s3-${counter}`, bundle, env: { APP_VERSION: 'from-s3' } }));
    try {
      const res = await get(front.port, '/');
      assert.equal(res.status, 200, res.body);
      const body = JSON.parse(res.body) as { version: string; data: string };
      assert.equal(body.version, 'from-s3');
      assert.equal(body.data, 'fixture data\n');
      const distinct = new Set(Object.values(bundle.files).map((f) => f.hash)).size;
      assert.ok(cache.fetches >= distinct, `every blob came from the bucket (${cache.fetches} fetches, ${distinct} blobs)`);
      assert.ok(cache.cachedBytes <= 1024 + Math.max(...Object.values(bundle.files).map((f) => f.size)), 'the cap held (give or take the blob in use)');
    } finally {
      await front.close();
      await runtime.close();
    }
  });
});
