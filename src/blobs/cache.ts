import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobStore, FileBlobStore, StoredBlob } from './index.js';
import { isBlobIntegrityError } from './integrity.js';
import type { LocalBlobStore } from './local.js';
import { isBlobHash } from '../manifest/index.js';

/** a fill's temp file untouched this long belongs to a process that died */
const STALE_FILL_MS = 10 * 60_000;

/**
 * A remote blob store (S3) with a bounded local directory of hot blobs in front: reads are
 * served from the directory, a cold blob is fetched from the remote once (however many readers
 * ask at the same moment) and kept; writes go to the remote and the directory. When the
 * directory holds more than `capBytes`, the least recently read blobs are deleted.
 */
export class CachedBlobStore implements FileBlobStore {
  /** hash -> size; Map order is the LRU order (oldest first): a read moves the hash to the end */
  private readonly entries = new Map<string, number>();
  private total = 0;
  private readonly filling = new Map<string, Promise<boolean>>();
  private ready: Promise<void> | undefined;
  /** how many times a blob was fetched from the remote (for tests and metrics) */
  fetches = 0;

  constructor(
    readonly remote: BlobStore,
    readonly local: LocalBlobStore,
    readonly capBytes: number,
  ) {}

  /** bytes the directory holds now */
  get cachedBytes(): number {
    return this.total;
  }

  async has(hash: string): Promise<boolean> {
    await this.init();
    return this.entries.has(hash) || (await this.remote.has(hash));
  }

  async put(hash: string, data: Buffer): Promise<boolean> {
    const stored = await this.remote.put(hash, data);
    await this.keep(hash, () => this.local.put(hash, data));
    return stored;
  }

  async putFile(hash: string, filePath: string): Promise<boolean> {
    const stored = await this.remote.putFile(hash, filePath);
    await this.keep(hash, () => this.local.putFile(hash, filePath));
    return stored;
  }

  async localPath(hash: string): Promise<string | undefined> {
    for (let attempt = 0; ; attempt++) {
      if (!(await this.fill(hash))) return undefined;
      // the caller links or copies it right away: make sure it is there now
      if ((await this.local.has(hash)) || attempt > 0) return this.local.pathOf(hash);
      await this.drop(hash);
    }
  }

  async get(hash: string): Promise<Buffer | undefined> {
    return this.read(hash, () => this.local.get(hash));
  }

  async stream(hash: string, range?: { start: number; end: number }): Promise<Readable | undefined> {
    return this.read(hash, () => this.local.stream(hash, range));
  }

  /** the remote's blobs: the directory only holds copies of some of them */
  list(): AsyncIterable<StoredBlob> {
    return this.remote.list();
  }

  /** gone from the remote and from the directory, so no reader here is served a collected blob */
  async delete(hash: string): Promise<boolean> {
    const deleted = await this.remote.delete(hash);
    await this.init();
    await this.drop(hash);
    return deleted;
  }

  /**
   * Reads the local copy, filling it first. A copy evicted between the fill and the read, or
   * damaged on disk, is dropped and fetched once more: the bucket's verified bytes win.
   */
  private async read<T>(hash: string, readLocal: () => Promise<T | undefined>): Promise<T | undefined> {
    for (let attempt = 0; ; attempt++) {
      if (!(await this.fill(hash))) return undefined;
      try {
        const got = await readLocal();
        if (got !== undefined || attempt > 0) return got;
      } catch (err) {
        if (!isBlobIntegrityError(err) || attempt > 0) throw err;
      }
      await this.drop(hash);
    }
  }

  private async drop(hash: string): Promise<void> {
    const size = this.entries.get(hash);
    if (size !== undefined) {
      this.entries.delete(hash);
      this.total -= size;
    }
    await unlink(this.local.pathOf(hash)).catch(() => {});
  }

  /** true when the blob is in the directory (fetched now if needed), false when the remote has none either */
  private async fill(hash: string): Promise<boolean> {
    await this.init();
    // counted here: no stat on the hot path; a reader that then finds the file gone (another
    // process sharing the folder evicted it) drops the entry and fills again
    if (this.entries.has(hash)) {
      this.touch(hash);
      return true;
    }
    // another process sharing the directory (an edge worker, the worker role) filled it:
    // count it here too instead of fetching it again (unless it is evicted right now)
    if (await this.local.has(hash)) {
      const adopted = await this.keep(hash, async () => {}).then(
        () => true,
        () => false,
      );
      if (adopted) return true;
    }
    let filling = this.filling.get(hash);
    if (filling === undefined) {
      filling = this.fetch(hash).finally(() => this.filling.delete(hash));
      this.filling.set(hash, filling);
    }
    return filling;
  }

  private async fetch(hash: string): Promise<boolean> {
    this.fetches++;
    // the remote verifies the whole blob before its stream starts: a corrupt one never lands here
    const source = await this.remote.stream(hash);
    if (source === undefined) return false;
    const tmp = join(this.local.root, `fill-${hash}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await this.keep(hash, async () => {
        await pipeline(source, createWriteStream(tmp, { mode: 0o600 }));
        // written under the folder: renamed into place, not copied once more
        await this.local.moveIn(hash, tmp);
      });
    } finally {
      await rm(tmp, { force: true });
    }
    return true;
  }

  /** writes the blob into the directory, counts it, and evicts what no longer fits */
  private async keep(hash: string, write: () => Promise<unknown>): Promise<void> {
    await this.init();
    await write();
    if (!this.entries.has(hash)) {
      const { size } = await stat(this.local.pathOf(hash));
      this.entries.set(hash, size);
      this.total += size;
    }
    this.touch(hash);
    await this.evict(hash);
  }

  private touch(hash: string): void {
    const size = this.entries.get(hash);
    if (size === undefined) return;
    this.entries.delete(hash);
    this.entries.set(hash, size);
  }

  /** deletes the least recently read blobs until the total fits (never `keep`, the one just used) */
  private async evict(keep: string): Promise<void> {
    for (const hash of [...this.entries.keys()]) {
      if (this.total <= this.capBytes) return;
      // a reader streaming it keeps its open file; the name is gone for everyone else
      if (hash !== keep) await this.drop(hash);
    }
  }

  /** counts what an earlier process left in the directory, oldest access first */
  private init(): Promise<void> {
    this.ready ??= (async () => {
      // fills write their temp files here before the blob store has made any folder
      await mkdir(this.local.root, { recursive: true });
      const found: { hash: string; size: number; at: number }[] = [];
      const shards = await readdir(this.local.root).catch(() => [] as string[]);
      for (const shard of shards) {
        if (!/^[0-9a-f]{2}$/.test(shard)) {
          // a fill that a crash interrupted; not one that another process sharing the folder
          // is writing now (a live fill keeps its file's mtime fresh)
          if (shard.startsWith('fill-')) {
            const path = join(this.local.root, shard);
            const s = await stat(path).catch(() => undefined);
            if (s !== undefined && Date.now() - s.mtimeMs > STALE_FILL_MS) await rm(path, { force: true });
          }
          continue;
        }
        for (const name of await readdir(join(this.local.root, shard)).catch(() => [] as string[])) {
          if (!isBlobHash(name)) continue;
          const s = await stat(join(this.local.root, shard, name)).catch(() => undefined);
          if (s !== undefined) found.push({ hash: name, size: s.size, at: Math.max(s.atimeMs, s.mtimeMs) });
        }
      }
      found.sort((a, b) => a.at - b.at);
      for (const f of found) {
        this.entries.set(f.hash, f.size);
        this.total += f.size;
      }
    })();
    return this.ready;
  }
}
