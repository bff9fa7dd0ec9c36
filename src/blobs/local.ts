import { createHash, randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, open, opendir, readFile, rename, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { FileBlobStore, StoredBlob } from './index.js';
import { sha256 } from './hash.js';
import { BlobIntegrityError } from './integrity.js';
import { isBlobHash } from '../manifest/index.js';

/** blob files whose verified look is remembered at most (a memory bound; forgetting only costs a re-hash) */
const MAX_VERIFIED = 100_000;

/**
 * Blobs as files under `<root>/<first two hex>/<hash>`, written to a temp name and renamed.
 * Each file is read-only (0444) from the moment it has its name: several deployments may share
 * its inode (the runtime hard-links bundle files), so nobody but root may write it.
 */
export class LocalBlobStore implements FileBlobStore {
  /**
   * hash -> how its file looked when its bytes last hashed right (device, inode, size, mtime,
   * ctime in ns). Any write changes the ctime, which no one can set back, so a file that still
   * looks the same needs no second hash: large streamed blobs are hashed once per process.
   */
  private readonly verified = new Map<string, string>();
  private readonly hashing = new Map<string, Promise<boolean>>();

  constructor(readonly root: string) {}

  pathOf(hash: string): string {
    if (!isBlobHash(hash)) throw new Error(`not a blob hash: ${hash}`);
    return join(this.root, hash.slice(0, 2), hash);
  }

  async localPath(hash: string): Promise<string | undefined> {
    return (await this.has(hash)) ? this.pathOf(hash) : undefined;
  }

  async has(hash: string): Promise<boolean> {
    try {
      await stat(this.pathOf(hash));
      return true;
    } catch {
      return false;
    }
  }

  async put(hash: string, data: Buffer): Promise<boolean> {
    return this.write(hash, (tmp) => writeFile(tmp, data));
  }

  async putFile(hash: string, filePath: string): Promise<boolean> {
    return this.write(hash, (tmp) => copyFile(filePath, tmp));
  }

  /**
   * Store a file that is already on this file system (e.g. under `root`) by renaming it into
   * place instead of copying; when the blob is already stored the file is left where it is
   * (false). The caller vouches the hash is right.
   */
  async moveIn(hash: string, filePath: string): Promise<boolean> {
    return this.write(hash, (tmp) => rename(filePath, tmp));
  }

  async get(hash: string): Promise<Buffer | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.pathOf(hash));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const actual = sha256(bytes);
    if (actual !== hash) throw new BlobIntegrityError(hash, actual);
    return bytes;
  }

  async stream(hash: string, range?: { start: number; end: number }): Promise<Readable | undefined> {
    let handle: FileHandle;
    try {
      handle = await open(this.pathOf(hash), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      // verified through the same open file that is streamed: a rename over the name since does not matter
      await this.verifyOpen(hash, handle);
      return handle.createReadStream({ start: range?.start ?? 0, ...(range === undefined ? {} : { end: range.end }), autoClose: true });
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async *list(): AsyncIterable<StoredBlob> {
    // one shard's names at a time (1/256 of the store): memory stays flat however many blobs there are
    for (const shard of await readdirOrEmpty(this.root)) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      for (const name of await readdirOrEmpty(join(this.root, shard))) {
        // a temp file of a write under way is not a blob yet
        if (!isBlobHash(name)) continue;
        const s = await stat(join(this.root, shard, name)).catch(() => undefined);
        if (s !== undefined) yield { hash: name, size: s.size, modifiedAt: s.mtimeMs };
      }
    }
  }

  async delete(hash: string): Promise<boolean> {
    this.verified.delete(hash);
    try {
      // a reader streaming it keeps its open file; a runtime bundle hard-linked to it keeps its inode
      await unlink(this.pathOf(hash));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  private async verifyOpen(hash: string, handle: FileHandle): Promise<void> {
    // a hard link made or removed meanwhile (the runtime links blobs into bundles) changes the
    // ctime too: hash again a few times before calling the file unstable
    for (let attempt = 0; attempt < 3; attempt++) {
      const look = lookOf(await handle.stat({ bigint: true }));
      if (this.verified.get(hash) === look) return;
      // the first requests for a large file share one hash of it (the same file: the same look)
      const key = `${hash} ${look}`;
      let hashing = this.hashing.get(key);
      if (hashing === undefined) {
        hashing = this.hashOnce(hash, handle, look).finally(() => this.hashing.delete(key));
        this.hashing.set(key, hashing);
      }
      if (await hashing) return;
    }
    throw new BlobIntegrityError(hash, 'unknown (the file kept changing while it was read)');
  }

  /** true: the file's bytes match and it did not change while read (remembered); false: it changed meanwhile. */
  private async hashOnce(hash: string, handle: FileHandle, look: string): Promise<boolean> {
    const digest = createHash('sha256');
    for await (const chunk of handle.createReadStream({ start: 0, autoClose: false })) digest.update(chunk as Buffer);
    const actual = digest.digest('hex');
    if (actual !== hash) {
      this.verified.delete(hash);
      throw new BlobIntegrityError(hash, actual);
    }
    // written while it was hashed: the hash says nothing about what would be streamed
    if (lookOf(await handle.stat({ bigint: true })) !== look) return false;
    if (this.verified.size >= MAX_VERIFIED) this.verified.clear();
    this.verified.set(hash, look);
    return true;
  }

  private async write(hash: string, writeTmp: (tmp: string) => Promise<void>): Promise<boolean> {
    const target = this.pathOf(hash);
    if (await this.has(hash)) return false;
    await mkdir(join(this.root, hash.slice(0, 2)), { recursive: true });
    const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    await writeTmp(tmp);
    // read-only before it is visible: no reader ever sees a writable blob (copyFile kept the source's mode)
    await chmod(tmp, 0o444);
    // rename is atomic: readers see the whole blob or none of it
    await rename(tmp, target);
    return true;
  }
}

/** names in a directory, streamed from the OS; none when it does not exist (an empty store) */
async function readdirOrEmpty(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of await opendir(dir)) names.push(entry.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return names;
}

function lookOf(s: BigIntStats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}
