import { join } from 'node:path';
import type { Config } from '../config/index.js';
import type { BlobStore } from './index.js';
import { LocalBlobStore } from './local.js';
import { S3BlobStore } from './s3.js';
import { parseS3Url } from './s3-url.js';

/**
 * The blob store a config asks for: the directory <dataDir>/blobs by default, the S3 bucket of
 * SLIPWAY_BLOB_URL when set. (Edge, runtime and worker still take a LocalBlobStore directly.)
 */
export function openBlobStore(config: Pick<Config, 'dataDir' | 'blobUrl'>): BlobStore {
  if (config.blobUrl === undefined) return new LocalBlobStore(join(config.dataDir, 'blobs'));
  return new S3BlobStore(parseS3Url(config.blobUrl));
}
