import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CachedBlobStore } from '../../src/blobs/cache.js';
import { type BlobStore, isBlobIntegrityError, LocalBlobStore, sha256 } from '../../src/blobs/index.js';
import { checkBucket, openBlobs } from '../../src/blobs/open.js';
import { S3BlobStore } from '../../src/blobs/s3.js';
import { loadConfig } from '../../src/config/index.js';
import { AppError } from '../../src/errors/index.js';
import { tempDir } from '../helpers/paths.js';
import { type RunningS3, startS3rver, useS3rverCredentials } from '../helpers/s3rver.js';

let prefixes = 0;
function s3Store(s3: RunningS3, tmpDir: string, client = {}): S3BlobStore {
  return new S3BlobStore({ bucket: s3.bucket, prefix: `p${++prefixes}/`, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true }, { tmpDir, client });
}

/** a remote that counts how often the cache asks it for a blob's bytes */
function counting(remote: BlobStore): BlobStore & { reads: number } {
  const counted = {
    reads: 0,
    has: (h: string) => remote.has(h),
    put: (h: string, d: Buffer) => remote.put(h, d),
    putFile: (h: string, f: string) => remote.putFile(h, f),
    get: (h: string) => {
      counted.reads++;
      return remote.get(h);
    },
    stream: (h: string, r?: { start: number; end: number }) => {
      counted.reads++;
      return remote.stream(h, r);
    },
    list: () => remote.list(),
    delete: (h: string) => remote.delete(h),
  };
  return counted;
}

describe('S3 blob store on s3rver', () => {
  let s3: RunningS3;
  let tmp: { path: string; cleanup(): Promise<void> };
  const stores: S3BlobStore[] = [];
  before(async () => {
    useS3rverCredentials();
    s3 = await startS3rver();
    tmp = await tempDir('slipway-s3test-');
  });
  after(async () => {
    for (const s of stores) await s.close();
    await s3.cleanup();
    await tmp.cleanup();
  });

  it('an upload right after has() said absent sends one HEAD, not two; a put of a stored blob still says so', async () => {
    const store = s3Store(s3, tmp.path);
    stores.push(store);
    const heads: string[] = [];
    store.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'HeadObjectCommand') heads.push(String((args.input as { Key?: string }).Key));
        return next(args);
      },
      { step: 'initialize' },
    );
    const bytes = randomBytes(1000);
    const hash = sha256(bytes);
    assert.equal(await store.has(hash), false);
    assert.equal(await store.put(hash, bytes), true);
    assert.equal(heads.length, 1, 'the upload trusted the has() of a moment ago');
    assert.equal(await store.put(hash, bytes), false, 'stored: the next put finds it');
    assert.equal(heads.length, 2);
    assert.deepEqual(await store.get(hash), bytes);
  });

  it('marks objects with their sha256 and uploads a large file in 8 MiB parts', async () => {
    const store = s3Store(s3, tmp.path);
    stores.push(store);
    const bytes = randomBytes(17 * 1024 * 1024);
    const hash = sha256(bytes);
    const file = join(tmp.path, 'big');
    await writeFile(file, bytes);
    const parts: string[] = [];
    const seeParts = (req: { method?: string; url?: string }) => {
      if (req.method === 'PUT' && /partNumber=/.test(req.url ?? '')) parts.push(req.url ?? '');
    };
    s3.httpServer.on('request', seeParts);
    try {
      assert.equal(await store.putFile(hash, file), true);
    } finally {
      s3.httpServer.off('request', seeParts);
    }
    // 17 MiB in 8 MiB parts: three UploadPart requests reached the server
    assert.equal(parts.length, 3);
    const head = await store.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: store.keyOf(hash) }));
    assert.equal(head.Metadata?.sha256, hash);
    assert.equal(head.ContentLength, bytes.length);
    assert.deepEqual(await store.get(hash), bytes);
  });

  it('the server going away mid-upload rejects with an error naming the store, and no half blob is visible after it is back', async () => {
    const own = await startS3rver();
    const dir = own.directory;
    const store = s3Store(own, tmp.path, { maxAttempts: 2 });
    stores.push(store);
    const bytes = randomBytes(24 * 1024 * 1024);
    const hash = sha256(bytes);
    const file = join(tmp.path, 'doomed');
    await writeFile(file, bytes);
    // cut every connection as soon as the first part starts arriving
    own.httpServer.on('request', (req) => {
      if (/partNumber=/.test(req.url ?? '')) void own.kill();
    });
    await assert.rejects(store.putFile(hash, file), (err: Error) => {
      assert.equal(err.name, 'BlobStoreError');
      assert.match(err.message, new RegExp(`${own.endpoint.replace(/[.]/g, '\\.')}.*bucket slipway-test.*multipart upload of p\\d+/${hash.slice(0, 2)}/${hash}`));
      return true;
    });
    const back = await startS3rver({ directory: dir, port: own.port });
    try {
      assert.equal(await store.has(hash), false);
      assert.equal(await store.get(hash), undefined);
    } finally {
      await back.kill();
      await own.cleanup(); // owns the folder both ran on
    }
  });

  it('a request to a server that is not there fails with a clear error, not a hang', async () => {
    const gone = await startS3rver();
    await gone.cleanup();
    const store = s3Store(gone, tmp.path, { maxAttempts: 1 });
    stores.push(store);
    await assert.rejects(store.has(sha256('x')), /S3 blob store http:\/\/127\.0\.0\.1:\d+, bucket slipway-test: HeadObject of .* failed \(.*ECONNREFUSED/);
  });

  it('at start-up a missing bucket stops with a CONFIG error, an unreachable one is only reported', async () => {
    const fine = s3Store(s3, tmp.path);
    stores.push(fine);
    const lines: string[] = [];
    await checkBucket(fine, (l) => lines.push(l));
    assert.deepEqual(lines, []);
    const missing = new S3BlobStore({ ...fine.location, bucket: 'no-such-bucket' });
    stores.push(missing);
    await assert.rejects(checkBucket(missing), (err: unknown) => err instanceof AppError && err.code === 'CONFIG' && /no-such-bucket/.test(err.message) && /s3:ListBucket/.test(err.hint ?? ''));
    const gone = await startS3rver();
    await gone.cleanup();
    const unreachable = s3Store(gone, tmp.path, { maxAttempts: 1 });
    stores.push(unreachable);
    const reported: string[] = [];
    await checkBucket(unreachable, (l) => reported.push(l));
    assert.match(reported.join('\n'), /^Warning: the blob bucket cannot be reached now \(.*ECONNREFUSED.*\); starting anyway$/);
  });

  describe('with a local cache in front', () => {
    it('keeps at most its cap on disk, evicting the least recently read blob, and refetches an evicted one', async () => {
      const remote = s3Store(s3, tmp.path);
      stores.push(remote);
      const dir = await tempDir('slipway-cache-');
      try {
        const local = new LocalBlobStore(dir.path);
        const cache = new CachedBlobStore(remote, local, 3 * 1024);
        const blobs = ['a', 'b', 'c', 'd'].map((c) => Buffer.alloc(1024, c));
        const [a, b, c, d] = blobs.map((x) => sha256(x)) as [string, string, string, string];
        await cache.put(a, blobs[0] as Buffer);
        await cache.put(b, blobs[1] as Buffer);
        await cache.put(c, blobs[2] as Buffer);
        assert.deepEqual(await cache.get(a), blobs[0]); // a is now the most recently read; b the oldest
        await cache.put(d, blobs[3] as Buffer);
        assert.equal(await local.has(b), false, 'the least recently used blob was evicted');
        for (const h of [a, c, d]) assert.equal(await local.has(h), true);
        assert.ok(cache.cachedBytes <= 3 * 1024);
        assert.deepEqual(await cache.get(b), blobs[1], 'an evicted blob comes back from the bucket');
        assert.equal(await local.has(b), true);
        assert.equal(await local.has(c), false, 'now c was the oldest');
        // a new process on the same folder counts what is there and keeps the cap
        const again = new CachedBlobStore(remote, local, 2 * 1024);
        await again.put(sha256('e'), Buffer.from('e'));
        assert.ok(again.cachedBytes <= 2 * 1024);
      } finally {
        await dir.cleanup();
      }
    });

    it('ten readers of a cold blob at once cause one fetch from the bucket and all get the bytes', async () => {
      const remote = s3Store(s3, tmp.path);
      stores.push(remote);
      const bytes = randomBytes(512 * 1024);
      const hash = sha256(bytes);
      await remote.put(hash, bytes);
      const dir = await tempDir('slipway-cache-');
      try {
        const counted = counting(remote);
        const cache = new CachedBlobStore(counted, new LocalBlobStore(dir.path), 16 * 1024 * 1024);
        const reads = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? cache.get(hash) : cache.stream(hash).then(collect))));
        for (const r of reads) assert.deepEqual(r, bytes);
        assert.equal(counted.reads, 1);
        await cache.get(hash);
        assert.equal(counted.reads, 1, 'a warm read does not touch the bucket');
      } finally {
        await dir.cleanup();
      }
    });

    it('a local copy damaged on disk is dropped and fetched again from the bucket', async () => {
      const remote = s3Store(s3, tmp.path);
      stores.push(remote);
      const bytes = Buffer.from('served from the cache');
      const hash = sha256(bytes);
      const dir = await tempDir('slipway-cache-');
      try {
        const local = new LocalBlobStore(dir.path);
        const cache = new CachedBlobStore(remote, local, 1024 * 1024);
        await cache.put(hash, bytes);
        await chmod(local.pathOf(hash), 0o644);
        await writeFile(local.pathOf(hash), 'disk rot, same length!');
        assert.deepEqual(await cache.get(hash), bytes);
        assert.deepEqual(await local.get(hash), bytes, 'the local copy was replaced by good bytes');
      } finally {
        await dir.cleanup();
      }
    });

    it('a cold read of a blob corrupted in the bucket rejects and leaves nothing in the cache', async () => {
      const remote = s3Store(s3, tmp.path);
      stores.push(remote);
      const hash = sha256('good bytes');
      await remote.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: remote.keyOf(hash), Body: 'evil bytes' }));
      const dir = await tempDir('slipway-cache-');
      try {
        const cache = new CachedBlobStore(remote, new LocalBlobStore(dir.path), 1024 * 1024);
        await assert.rejects(cache.get(hash), isBlobIntegrityError);
        assert.deepEqual(await readdir(dir.path), []);
        assert.equal(cache.cachedBytes, 0);
      } finally {
        await dir.cleanup();
      }
    });
  });
});

async function collect(stream: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  assert.ok(stream);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('SLIPWAY_BLOB_URL', () => {
  it('selects the S3 store from an s3:// URL, read through the blob cache, and the directory by default', async () => {
    const config = loadConfig({ 'data-dir': '/tmp/x', 'blob-url': 's3://my-bucket/site/blobs?endpoint=http://127.0.0.1:9000&region=eu-west-1&forcePathStyle=1', 'blob-cache-mb': '64' }, {});
    const opened = await openBlobs(config);
    const store = opened.store;
    assert.ok(store instanceof S3BlobStore);
    assert.deepEqual(store.location, { bucket: 'my-bucket', prefix: 'site/blobs/', endpoint: 'http://127.0.0.1:9000', region: 'eu-west-1', forcePathStyle: true });
    // the edge, runtime and worker read the same bucket through a bounded directory of local copies
    assert.ok(opened.files instanceof CachedBlobStore);
    assert.equal(opened.files.remote, store);
    assert.match(opened.files.local.root, /^\/tmp\/x\/blob-cache\/[0-9a-f]{12}$/);
    const otherBucket = await openBlobs({ ...config, blobUrl: 's3://my-bucket/other-prefix?endpoint=http://127.0.0.1:9000' });
    assert.notEqual((otherBucket.files as CachedBlobStore).local.root, opened.files.local.root, 'another bucket or prefix: another folder');
    await otherBucket.close();
    assert.equal(opened.files.capBytes, 64 * 1024 * 1024);
    await opened.close();
    const fromEnv = loadConfig({ 'data-dir': '/tmp/x' }, { SLIPWAY_BLOB_URL: 's3://other-bucket' });
    const aws = await openBlobs(fromEnv);
    assert.deepEqual((aws.store as S3BlobStore).location, { bucket: 'other-bucket', prefix: '', endpoint: undefined, region: 'us-east-1', forcePathStyle: false });
    await aws.close();
    const local = await openBlobs(loadConfig({ 'data-dir': '/tmp/x' }, {}));
    assert.ok(local.store instanceof LocalBlobStore);
    // no blob URL: one directory for every role, no cache layer
    assert.equal(local.files, local.store);
    assert.equal(local.store.root, '/tmp/x/blobs');
  });

  it('--blob-cache-mb (SLIPWAY_BLOB_CACHE_MB) takes a size in MiB, default 2048, and a bad one stops the start', () => {
    assert.equal(loadConfig({}, {}).blobCacheMb, 2048);
    assert.equal(loadConfig({}, { SLIPWAY_BLOB_CACHE_MB: '512' }).blobCacheMb, 512);
    for (const bad of ['0', 'lots', '-5']) {
      assert.throws(
        () => loadConfig({ 'blob-cache-mb': bad }, {}),
        (err: unknown) => err instanceof AppError && err.code === 'CONFIG' && /--blob-cache-mb \(SLIPWAY_BLOB_CACHE_MB\)/.test(err.message) && /--blob-cache-mb 2048/.test(err.hint ?? ''),
      );
    }
  });

  for (const bad of ['https://bucket/x', 's3://AK:SECRET@bucket', 's3://b', 's3://bucket?endpoint=ftp://x', 's3://bucket?regoin=eu', 's3://bucket?forcePathStyle=yes']) {
    it(`stops the start with a CONFIG error showing a valid example: ${bad}`, () => {
      assert.throws(
        () => loadConfig({ 'blob-url': bad }, {}),
        (err: unknown) => err instanceof AppError && err.code === 'CONFIG' && /--blob-url/.test(err.message) && /s3:\/\/slipway-blobs\/prod\?endpoint=/.test(err.hint ?? ''),
      );
    });
  }
});
