import type { Readable } from 'node:stream';

/**
 * Content-addressed blob storage keyed by sha256 hex. Blobs are immutable: a put of a hash
 * that is already stored is a no-op. Embedded default: a directory (./local.ts);
 * scale-out: an S3-compatible bucket.
 *
 * Reads are verified: what `get` returns and what `stream` sends hash to the name asked for,
 * or they reject with a BlobIntegrityError (bytes changed after they were stored), so no
 * reader serves or runs changed bytes.
 */
export interface BlobStore {
  has(hash: string): Promise<boolean>;
  /** Store bytes under their hash; returns false when the blob was already there. The caller vouches the hash is right. */
  put(hash: string, data: Buffer): Promise<boolean>;
  /** Store a file's bytes under their hash without reading it all into memory. */
  putFile(hash: string, filePath: string): Promise<boolean>;
  /** The whole blob, or undefined when absent; rejects with BlobIntegrityError when its bytes do not match its hash. */
  get(hash: string): Promise<Buffer | undefined>;
  /**
   * A stream of the blob (optionally a byte range, inclusive end), or undefined when absent.
   * The whole blob is checked against its hash before the stream is handed out (rejects with
   * BlobIntegrityError), so a caller can still answer with an error instead of the bytes.
   */
  stream(hash: string, range?: { start: number; end: number }): Promise<Readable | undefined>;
  /**
   * Every stored blob, one at a time (a store of millions is never held in memory), in no
   * promised order. `modifiedAt` (ms) is when the blob was written: the collector's grace period.
   */
  list(): AsyncIterable<StoredBlob>;
  /** Remove a blob; false when it was not there. Only the garbage collector calls this. */
  delete(hash: string): Promise<boolean>;
}

/** One blob as `list()` reports it. */
export interface StoredBlob {
  hash: string;
  size: number;
  modifiedAt: number;
}

/**
 * A blob store that can hand out a blob as a file on this machine: the runtime hard-links and
 * copies server bundle files from it. The directory store is one; a remote store reaches it
 * through the CachedBlobStore in front of it.
 */
export interface FileBlobStore extends BlobStore {
  /**
   * The path of the blob's read-only file here, fetched first when only the remote has it;
   * undefined when no store has it. The file may be evicted later: link or copy it right away.
   */
  localPath(hash: string): Promise<string | undefined>;
}

export { LocalBlobStore } from './local.js';
export { sha256, sha256File } from './hash.js';
export { BlobIntegrityError, isBlobIntegrityError } from './integrity.js';
export { CachedBlobStore } from './cache.js';
export { checkBucket, openBlobs, type OpenedBlobs } from './open.js';
