import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { formatSeconds } from './run.js';
import { copyTree, probeFileOp, type FileOp } from './cache-tree.js';
import type { LogFn } from './types.js';

/*
 * A project's build cache, one folder per project (never shared between projects):
 *
 *   deps/<key>/node_modules/   a finished dependency tree for one dependency key (immutable)
 *   deps/<key>/entry.json      { files, bytes, sealedAt }: written before the folder is renamed in
 *   deps/<key>/used            its mtime is the last time the entry was restored (LRU)
 *   framework/current/         the newest framework caches (.next/cache, node_modules/.cache, ...)
 *   tmp/                       entries being written or removed
 *
 * Writers build an entry under tmp/ and rename it into place in one step, so a reader sees a
 * whole entry or none; removal renames out first. No lock is needed: two builds saving the same
 * key race on the rename, the loser throws its copy away.
 */

export interface ProjectCache {
  dir: string;
  maxBytes: number;
  maxEntries: number;
  /** how files move between the cache and this build's checkout */
  op: FileOp;
}

export const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;
export const DEFAULT_MAX_ENTRIES = 3;

/**
 * Tool caches that live inside node_modules and that builds rewrite. They are never part of a
 * dependency entry: restored by hard link, a build writing them in place would change the
 * cached copy. The useful ones travel with the framework cache instead, always copied.
 */
const DEPENDENCY_SKIP = new Set(['.cache', '.vite', '.vite-temp', '.astro']);
/** package-manager bookkeeping a later `npm install` / `pnpm install` rewrites in place: copied, not linked */
const DEPENDENCY_COPY = new Set(['.package-lock.json', '.modules.yaml', '.yarn-integrity', '.yarn-state.yml']);

/**
 * Framework caches, relative to the root directory, that are built to be carried from one build
 * to the next (they validate themselves against the sources): Next.js's `.next/cache` (webpack
 * and image cache), the generic `node_modules/.cache` (babel-loader, terser, webpack, eslint) and
 * Astro's `node_modules/.astro` (content layer, optimised images). Not `.svelte-kit`, which is
 * generated output that SvelteKit rewrites, nor `node_modules/.vite`, which `vite build` does not read.
 */
export const FRAMEWORK_CACHE_PATHS = ['.next/cache', 'node_modules/.cache', 'node_modules/.astro'];

interface EntryInfo {
  key: string;
  packageManager: string;
  files: number;
  bytes: number;
  /** epoch ms when the tree had been linked or copied in; a file newer than this was written in place afterwards */
  sealedAt: number;
}

export async function openProjectCache(options: { dir: string; maxBytes?: number | undefined; maxEntries?: number | undefined }, rootDir: string): Promise<ProjectCache> {
  await Promise.all(['deps', 'framework', 'tmp'].map((name) => mkdir(join(options.dir, name), { recursive: true })));
  return {
    dir: options.dir,
    maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
    maxEntries: Math.max(1, options.maxEntries ?? DEFAULT_MAX_ENTRIES),
    op: await probeFileOp(join(options.dir, 'tmp'), rootDir),
  };
}

/**
 * Put the cached node_modules for `key` into `rootDir`. Returns undefined on a miss, also when
 * the entry turns out to have been written in place since it was saved (it is then removed) or
 * vanishes under an eviction mid-way; a partial tree is never left behind.
 */
export async function restoreDependencies(cache: ProjectCache, key: string, rootDir: string, log: LogFn): Promise<{ files: number; ms: number } | undefined> {
  const entryDir = join(cache.dir, 'deps', key);
  const info = await readEntry(entryDir);
  if (info === undefined) return undefined;
  const started = Date.now();
  const target = join(rootDir, 'node_modules');
  await rm(target, { recursive: true, force: true });
  try {
    const stats = await copyTree(join(entryDir, 'node_modules'), target, { op: cache.op, copyAlways: DEPENDENCY_COPY, measure: true });
    if (stats.newestMtimeMs > info.sealedAt) {
      log(`Warning: the cached node_modules (key ${short(key)}) was modified after it was saved (a build wrote into a file in place); discarding it and installing`);
      await rm(target, { recursive: true, force: true });
      await removeDir(cache, entryDir);
      return undefined;
    }
    const now = new Date();
    await utimes(join(entryDir, 'used'), now, now).catch(() => undefined);
    const ms = Date.now() - started;
    log(`Restored node_modules from cache (key ${short(key)}, ${stats.files} files${describeOp(cache.op, stats.copied)}) in ${formatSeconds(ms)}`);
    return { files: stats.files, ms };
  } catch (err) {
    log(`Warning: could not restore node_modules from cache (${(err as Error).message}); installing`);
    await rm(target, { recursive: true, force: true });
    return undefined;
  }
}

/**
 * Save `rootDir/node_modules` as the entry for `key` (skipped when another build saved it
 * first), then evict. Never throws: a cache that cannot be written only costs speed.
 */
export async function saveDependencies(cache: ProjectCache, key: string, rootDir: string, packageManager: string, log: LogFn): Promise<number | undefined> {
  const started = Date.now();
  const entryDir = join(cache.dir, 'deps', key);
  const source = join(rootDir, 'node_modules');
  if ((await readEntry(entryDir)) !== undefined) return undefined;
  // a project without dependencies gets an empty entry: the next build skips the install too
  if (!(await exists(source))) await mkdir(source);
  const temp = join(cache.dir, 'tmp', `deps-${key.slice(0, 16)}-${randomBytes(6).toString('hex')}`);
  try {
    await mkdir(temp);
    const stats = await copyTree(source, join(temp, 'node_modules'), { op: cache.op, skip: DEPENDENCY_SKIP, copyAlways: DEPENDENCY_COPY, measure: true });
    // after the copy: copied files (a checkout on another file system, as the size-capped build
    // folder is) have the time of the copy, which must not count as written in place
    const sealedAt = Date.now();
    const info: EntryInfo = { key, packageManager, files: stats.files, bytes: stats.bytes, sealedAt };
    await writeFile(join(temp, 'entry.json'), JSON.stringify(info));
    await writeFile(join(temp, 'used'), '');
    try {
      await rename(temp, entryDir);
    } catch (err) {
      // another build of this project saved the same key first: keep theirs
      if (!['EEXIST', 'ENOTEMPTY'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
      await rm(temp, { recursive: true, force: true });
      return undefined;
    }
    const ms = Date.now() - started;
    log(`Saved node_modules to the cache (key ${short(key)}, ${stats.files} files, ${formatBytes(stats.bytes)}) in ${formatSeconds(ms)}`);
    return ms;
  } catch (err) {
    log(`Warning: could not save node_modules to the cache (${(err as Error).message})`);
    await rm(temp, { recursive: true, force: true });
    return undefined;
  }
}

/** Copy the saved framework caches into `rootDir` (paths the checkout already has are left alone). */
export async function restoreFrameworkCache(cache: ProjectCache, rootDir: string, log: LogFn): Promise<boolean> {
  const current = join(cache.dir, 'framework', 'current');
  const info = await readJson<{ paths: string[] }>(join(current, 'entry.json'));
  if (info === undefined) return false;
  const started = Date.now();
  const restored: string[] = [];
  for (const path of info.paths.filter((p) => FRAMEWORK_CACHE_PATHS.includes(p))) {
    const target = join(rootDir, path);
    if (await exists(target)) continue;
    try {
      await mkdir(dirname(target), { recursive: true });
      // a copy (or a clone), never a link: the build rewrites these files
      await copyTree(join(current, path), target, { op: cache.op === 'clone' ? 'clone' : 'copy' });
      restored.push(path);
    } catch (err) {
      log(`Warning: could not restore ${path} from cache (${(err as Error).message})`);
      await rm(target, { recursive: true, force: true });
    }
  }
  if (restored.length > 0) log(`Restored ${restored.join(', ')} from cache in ${formatSeconds(Date.now() - started)}`);
  return restored.length > 0;
}

/** Replace the saved framework caches with this build's. Returns whether the build had any. */
export async function saveFrameworkCache(cache: ProjectCache, rootDir: string, log: LogFn): Promise<boolean> {
  const present: string[] = [];
  for (const path of FRAMEWORK_CACHE_PATHS) if (await isDir(join(rootDir, path))) present.push(path);
  if (present.length === 0) return false;
  const started = Date.now();
  const temp = join(cache.dir, 'tmp', `framework-${randomBytes(6).toString('hex')}`);
  const current = join(cache.dir, 'framework', 'current');
  try {
    let bytes = 0;
    for (const path of present) {
      await mkdir(dirname(join(temp, path)), { recursive: true });
      bytes += (await copyTree(join(rootDir, path), join(temp, path), { op: cache.op === 'clone' ? 'clone' : 'copy', measure: true })).bytes;
    }
    if (bytes > cache.maxBytes / 2) {
      log(`Framework cache not saved: ${formatBytes(bytes)} is more than half the project's cache limit (${formatBytes(cache.maxBytes)})`);
      await rm(temp, { recursive: true, force: true });
      return true;
    }
    await writeFile(join(temp, 'entry.json'), JSON.stringify({ paths: present, bytes, savedAt: Date.now() }));
    // swap: move the old one out, the new one in; a reader in between sees none (a miss), never a mix
    await removeDir(cache, current);
    try {
      await rename(temp, current);
    } catch (err) {
      if (!['EEXIST', 'ENOTEMPTY'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
      await rm(temp, { recursive: true, force: true });
    }
    log(`Saved ${present.join(', ')} to the cache (${formatBytes(bytes)}) in ${formatSeconds(Date.now() - started)}`);
  } catch (err) {
    log(`Warning: could not save the framework cache (${(err as Error).message})`);
    await rm(temp, { recursive: true, force: true });
  }
  return true;
}

/**
 * Keep at most `maxEntries` dependency entries and `maxBytes` in all, dropping the least
 * recently used first; `keep` (this build's key) always stays. Sizes are the ones measured at
 * save time, each inode counted once per entry: entries from separate installs share no files
 * (each install unpacks afresh), and the links in checkouts are not the cache's to count.
 * Also clears leftovers of builds that died mid-save.
 */
export async function evict(cache: ProjectCache, keep: string | undefined, log: LogFn): Promise<string[]> {
  const depsDir = join(cache.dir, 'deps');
  const entries: { key: string; bytes: number; used: number }[] = [];
  for (const key of await readdir(depsDir).catch(() => [])) {
    const info = await readEntry(join(depsDir, key));
    if (info === undefined) continue;
    const used = await stat(join(depsDir, key, 'used')).then((s) => s.mtimeMs, () => 0);
    entries.push({ key, bytes: info.bytes, used });
  }
  entries.sort((a, b) => (a.key === keep ? -1 : b.key === keep ? 1 : b.used - a.used));
  const framework = await readJson<{ bytes: number }>(join(cache.dir, 'framework', 'current', 'entry.json'));
  let total = framework?.bytes ?? 0;
  const evicted: string[] = [];
  for (const [index, entry] of entries.entries()) {
    total += entry.bytes;
    if (entry.key === keep || (index < cache.maxEntries && total <= cache.maxBytes)) continue;
    total -= entry.bytes;
    await removeDir(cache, join(depsDir, entry.key));
    evicted.push(entry.key);
  }
  if (evicted.length > 0) log(`Dependency cache: evicted ${evicted.length} older entr${evicted.length === 1 ? 'y' : 'ies'} (keeping ${cache.maxEntries} at most, ${formatBytes(cache.maxBytes)} in all)`);
  await clearStale(join(cache.dir, 'tmp'));
  return evicted;
}

/** Remove a folder without a reader ever seeing half of it: rename it out, then delete. */
async function removeDir(cache: ProjectCache, path: string): Promise<void> {
  const trash = join(cache.dir, 'tmp', `trash-${randomBytes(6).toString('hex')}`);
  try {
    await rename(path, trash);
  } catch {
    return; // already gone (another build removed it)
  }
  await rm(trash, { recursive: true, force: true });
}

/** tmp/ entries older than an hour belong to builds that died mid-save */
async function clearStale(tmp: string): Promise<void> {
  const cutoff = Date.now() - 60 * 60_000;
  for (const name of await readdir(tmp).catch(() => [])) {
    const path = join(tmp, name);
    const info = await stat(path).catch(() => undefined);
    if (info !== undefined && info.mtimeMs < cutoff) await rm(path, { recursive: true, force: true });
  }
}

async function readEntry(entryDir: string): Promise<EntryInfo | undefined> {
  const info = await readJson<EntryInfo>(join(entryDir, 'entry.json'));
  return info !== undefined && typeof info.sealedAt === 'number' && typeof info.bytes === 'number' ? info : undefined;
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

function isDir(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}

export function short(key: string): string {
  return `${key.slice(0, 12)}…`;
}

function describeOp(op: FileOp, copied: number): string {
  const how = op === 'link' ? ', hard links' : op === 'clone' ? ', clones' : ', copied';
  return copied > 0 ? `${how}; ${copied} copied` : how;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}
