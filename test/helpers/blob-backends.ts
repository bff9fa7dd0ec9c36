import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { BlobStore } from '../../src/blobs/index.js';
import { CachedBlobStore } from '../../src/blobs/cache.js';
import { LocalBlobStore } from '../../src/blobs/local.js';
import { S3BlobStore } from '../../src/blobs/s3.js';
import { tempDir } from './paths.js';
import { type RunningS3, startS3rver, useS3rverCredentials } from './s3rver.js';

/** A fresh, empty blob store for one test. */
export interface OpenedBlobStore {
  store: BlobStore;
  /** replace the stored bytes of a blob behind the store's back (disk, bucket, or both for the cache) */
  corrupt(hash: string, bytes: Buffer): Promise<void>;
  cleanup(): Promise<void>;
}

export interface BlobBackend {
  name: 'directory' | 's3' | 'cached-s3';
  open(): Promise<OpenedBlobStore>;
}

let prefixes = 0;

async function openS3(s3: RunningS3): Promise<{ store: S3BlobStore; corrupt(hash: string, bytes: Buffer): Promise<void>; cleanup(): Promise<void> }> {
  const tmp = await tempDir('slipway-s3tmp-');
  // a prefix per test: every test starts with an empty "bucket"
  const store = new S3BlobStore({ bucket: s3.bucket, prefix: `t${process.pid}-${++prefixes}/`, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true }, { tmpDir: tmp.path });
  return {
    store,
    corrupt: async (hash, bytes) => {
      await store.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: store.keyOf(hash), Body: bytes }));
    },
    cleanup: async () => {
      await store.close();
      await tmp.cleanup();
    },
  };
}

async function corruptFile(local: LocalBlobStore, hash: string, bytes: Buffer): Promise<void> {
  const path = local.pathOf(hash);
  await mkdir(join(path, '..'), { recursive: true });
  await chmod(path, 0o644).catch(() => {});
  await writeFile(path, bytes);
}

/**
 * Runs `fn` once per blob store: the directory store, S3BlobStore on a real s3rver the suite
 * starts, and CachedBlobStore in front of that S3 store. `fn` gets the backend to open stores.
 */
export function forEachBlobStore(name: string, fn: (backend: BlobBackend, s3: () => RunningS3 | undefined) => void): void {
  describe(`${name} (directory)`, () => {
    fn(
      {
        name: 'directory',
        async open() {
          const dir = await tempDir('slipway-blobs-');
          const store = new LocalBlobStore(dir.path);
          return { store, corrupt: (h, b) => corruptFile(store, h, b), cleanup: dir.cleanup };
        },
      },
      () => undefined,
    );
  });
  for (const kind of ['s3', 'cached-s3'] as const) {
    describe(`${name} (${kind}, s3rver)`, () => {
      let s3: RunningS3 | undefined;
      before(async () => {
        useS3rverCredentials();
        s3 = await startS3rver();
      });
      after(async () => {
        await s3?.cleanup();
      });
      fn(
        {
          name: kind,
          async open() {
            const remote = await openS3(s3 as RunningS3);
            if (kind === 's3') return remote;
            const dir = await tempDir('slipway-blobcache-');
            const local = new LocalBlobStore(dir.path);
            return {
              store: new CachedBlobStore(remote.store, local, 64 * 1024 * 1024),
              corrupt: async (h, b) => {
                await remote.corrupt(h, b);
                if (await local.has(h)) await corruptFile(local, h, b);
              },
              cleanup: async () => {
                await remote.cleanup();
                await dir.cleanup();
              },
            };
          },
        },
        () => s3,
      );
    });
  }
}
