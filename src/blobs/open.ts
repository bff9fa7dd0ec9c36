import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { AppError } from '../errors/index.js';
import { CachedBlobStore } from './cache.js';
import type { BlobStore, FileBlobStore } from './index.js';
import { LocalBlobStore } from './local.js';
import type { S3BlobStore } from './s3.js';
import { parseS3Url } from './s3-url.js';

/** The blob stores one process uses, opened once from its config (see openBlobs). */
export interface OpenedBlobs {
  /** where the api writes and reads: the directory, or the bucket itself (no local copies) */
  readonly store: BlobStore;
  /**
   * what the edge, the runtime and the worker use: the same directory, or the bucket read
   * through the bounded local cache <dataDir>/blob-cache/<bucket id> (a hot site never waits on the bucket,
   * a cold edge fills it on demand; the worker's uploads land there too, so its server check
   * runs from local files)
   */
  readonly files: FileBlobStore;
  /** the bucket when SLIPWAY_BLOB_URL is set: build caches are shared through it */
  readonly remote: S3BlobStore | undefined;
  /** closes the bucket's sockets and temp files */
  close(): Promise<void>;
}

/**
 * The blob stores a config asks for. With no blob URL, one LocalBlobStore on <dataDir>/blobs
 * serves every role, exactly as a single machine always did: no cache layer, no extra copies.
 *
 * @example
 * const blobs = await openBlobs(config); // config.blobUrl = 's3://slipway/prod?region=eu-west-1'
 * await blobs.files.localPath(hash); // a local file, fetched from the bucket if needed
 */
export async function openBlobs(config: Pick<Config, 'dataDir' | 'blobUrl' | 'blobCacheMb'>): Promise<OpenedBlobs> {
  if (config.blobUrl === undefined) {
    const local = new LocalBlobStore(join(config.dataDir, 'blobs'));
    return { store: local, files: local, remote: undefined, close: async () => {} };
  }
  // the AWS SDK loads only in processes that use a bucket
  const { S3BlobStore } = await import('./s3.js');
  const location = parseS3Url(config.blobUrl);
  const remote = new S3BlobStore(location);
  // a folder per bucket and prefix: the cache answers has() from what it holds, which must be
  // in *this* bucket (a data dir pointed at another bucket starts a folder of its own)
  const id = createHash('sha256')
    .update(`${location.endpoint ?? 'aws'} ${location.bucket} ${location.prefix}`)
    .digest('hex')
    .slice(0, 12);
  const files = new CachedBlobStore(remote, new LocalBlobStore(join(config.dataDir, 'blob-cache', id)), config.blobCacheMb * 1024 * 1024);
  return { store: remote, files, remote, close: () => remote.close() };
}

/**
 * At start-up: a bucket that does not exist, or that these credentials may not use, stops the
 * start with what is wrong; one that cannot be reached right now is only reported (an edge with
 * a warm blob cache can serve meanwhile, and every read retries).
 */
export async function checkBucket(remote: S3BlobStore, report: (line: string) => void = console.error): Promise<void> {
  const probe = await remote.probe();
  if (probe.ok) return;
  if (!probe.definite) {
    report(`Warning: the blob bucket cannot be reached now (${probe.message}); starting anyway`);
    return;
  }
  throw new AppError('CONFIG', `--blob-url (SLIPWAY_BLOB_URL) names a bucket this process cannot use: ${probe.message}.`, {
    hint: 'Create the bucket, and give the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the instance role) s3:GetObject, s3:PutObject and s3:ListBucket on it.',
  });
}
