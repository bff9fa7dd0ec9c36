import { chown, mkdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { FileOp, Owner } from './cache-tree.js';
import type { LogFn } from './types.js';

/* Small helpers of the build cache (cache.ts, turbo-cache.ts). */

export async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/**
 * Make the missing folders above `path` (below `root`, every existing one a real folder, see
 * resolveBeneath) one at a time, each given to `owner`. Returns the folders made, outermost first.
 */
export async function makeParents(root: string, path: string, owner: Owner | undefined): Promise<string[]> {
  const made: string[] = [];
  const parts = relative(root, join(path, '..'))
    .split(/[\\/]+/)
    .filter((p) => p !== '');
  let dir = root;
  for (const part of parts) {
    dir = join(dir, part);
    try {
      await mkdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw err;
    }
    made.push(dir);
    if (owner !== undefined) await chown(dir, owner.uid, owner.gid);
  }
  return made;
}

/** one log line for the symlinks a copy left out */
export function warnDropped(log: LogFn, tree: string, dropped: string[]): void {
  if (dropped.length === 0) return;
  const more = dropped.length > 1 ? ` (and ${dropped.length - 1} more)` : '';
  log(`Warning: left out ${tree}/${dropped[0]}${more} from the cache: a symlink pointing outside the project`);
}

export function short(key: string): string {
  return `${key.slice(0, 12)}…`;
}

export function describeOp(op: FileOp, copied: number): string {
  const how = op === 'link' ? ', hard links' : op === 'clone' ? ', clones' : ', copied';
  return copied > 0 ? `${how}; ${copied} copied` : how;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}
