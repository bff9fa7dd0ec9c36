import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isBlobHash } from '../manifest/index.js';
import { sha256File } from './hash.js';
import type { BlobStore } from './index.js';
import type { LocalBlobStore } from './local.js';

export interface BlobsCopied {
  blobs: number;
  /** already in the target: not sent again */
  skipped: number;
  bytes: number;
  /** blobs whose bytes no longer match their name: not copied (a damaged blob must not spread) */
  damaged: string[];
}

/** Every blob file of a directory store: `<root>/<first two hex>/<hash>`. */
async function* blobFiles(store: LocalBlobStore): AsyncGenerator<{ hash: string; path: string }> {
  const fans = await readdir(store.root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  for (const fan of fans.sort()) {
    if (!/^[0-9a-f]{2}$/.test(fan)) continue;
    for (const name of (await readdir(join(store.root, fan))).sort()) {
      if (isBlobHash(name) && name.startsWith(fan)) yield { hash: name, path: join(store.root, fan, name) };
    }
  }
}

/**
 * Copy every blob of a directory store into another store (an S3 bucket), `concurrency` at a
 * time, skipping the blobs the target has: an interrupted copy run again sends only the rest.
 * Each file is hashed first: one whose bytes no longer match its name is reported, not copied.
 */
export async function copyBlobs(from: LocalBlobStore, to: BlobStore, opts: { concurrency?: number; onBlob?: (bytes: number) => void } = {}): Promise<BlobsCopied> {
  const result: BlobsCopied = { blobs: 0, skipped: 0, bytes: 0, damaged: [] };
  const files = blobFiles(from);
  const next = async (): Promise<{ hash: string; path: string } | undefined> => (await files.next()).value ?? undefined;
  const lane = async () => {
    for (let file = await next(); file !== undefined; file = await next()) {
      const { size } = await stat(file.path);
      if ((await sha256File(file.path)) !== file.hash) result.damaged.push(file.hash);
      else if (await to.putFile(file.hash, file.path)) {
        result.blobs += 1;
        result.bytes += size;
      } else result.skipped += 1;
      opts.onBlob?.(size);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 8 }, lane));
  return result;
}
