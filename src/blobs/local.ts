import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import type { BlobStore } from './index.js';
import { isBlobHash } from '../manifest/index.js';

/** Blobs as files under `<root>/<first two hex>/<hash>`, written to a temp name and renamed. */
export class LocalBlobStore implements BlobStore {
  constructor(readonly root: string) {}

  pathOf(hash: string): string {
    if (!isBlobHash(hash)) throw new Error(`not a blob hash: ${hash}`);
    return join(this.root, hash.slice(0, 2), hash);
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

  async get(hash: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.pathOf(hash));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async stream(hash: string, range?: { start: number; end: number }): Promise<Readable | undefined> {
    if (!(await this.has(hash))) return undefined;
    return createReadStream(this.pathOf(hash), range);
  }

  private async write(hash: string, writeTmp: (tmp: string) => Promise<void>): Promise<boolean> {
    const target = this.pathOf(hash);
    if (await this.has(hash)) return false;
    await mkdir(join(this.root, hash.slice(0, 2)), { recursive: true });
    const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    await writeTmp(tmp);
    // rename is atomic: readers see the whole blob or none of it
    await rename(tmp, target);
    return true;
  }
}
