import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { formatSeconds } from './run.js';
import { resolveBeneath } from '../beneath/index.js';
import { copyTree, probeFileOp, type FileOp, type Owner } from './cache-tree.js';
import type { LogFn } from './types.js';
import { describeOp, formatBytes, makeParents, readJson, short, warnDropped } from './cache-util.js';
import { pullShared, pushShared, type SharedBuildCache } from './cache-share.js';
export { formatBytes, short } from './cache-util.js';

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
 *
 * The checkout side is hostile: every path into it is resolved from the checkout's own folder
 * without following a symlink (beneath.ts), trees are copied without following links inside
 * them, and a link is kept only when it stays inside the checkout.
 *
 * Integrity of dependency entries: restored by hard link, a checkout's node_modules shares its
 * files' inodes with the cache. When the worker is root, saving makes every cached file owned by
 * root and read-only, and restoring gives the folders (and any copies) to the build's user: the
 * build may add, remove and rename entries in its own tree, but it runs as another uid in a
 * user namespace where root is unmapped, so no write to a cached inode is possible and what the
 * next build gets is what was saved. Without root (no owner to hand the tree to) the build runs
 * as the worker's own user and could write the files, so the mtime check stays as the fallback.
 */

export interface ProjectCache {
  dir: string;
  maxBytes: number;
  maxEntries: number;
  /** how files move between the cache and this build's checkout */
  op: FileOp;
  /** the entries other workers saved (the blob store): a local miss looks there, a save shares (see cache-share.ts) */
  shared?: SharedBuildCache | undefined;
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

/** A set of carried-over caches, kept under `<cache>/<name>/current`: the framework's (per root directory) or a tool's (turbo-cache.ts). */
export interface CacheSlot {
  name: string;
  paths: readonly string[];
}
const FRAMEWORK_SLOT: CacheSlot = { name: 'framework', paths: FRAMEWORK_CACHE_PATHS };
/** every slot's saved bytes count towards the project's cache limit */
const SLOT_NAMES = ['framework', 'turbo'];

interface EntryInfo {
  key: string;
  packageManager: string;
  files: number;
  bytes: number;
  /** epoch ms when the tree had been linked or copied in; a file newer than this was written in place afterwards */
  sealedAt: number;
  /** every file was made root-owned and read-only when saved (see above) */
  readOnly?: boolean;
  /** folders below the root directory (workspace packages) whose own node_modules are in the entry, under workspace/<folder>/ */
  trees?: string[];
}

export interface CheckoutOptions {
  /** the checkout `rootDir` is in: paths are resolved from it, and symlinks may point anywhere inside it (default rootDir) */
  within?: string | undefined;
  /** the build's user, given what a restore makes; undefined: the worker's own (not root) */
  owner?: Owner | undefined;
}

export async function openProjectCache(
  options: { dir: string; maxBytes?: number | undefined; maxEntries?: number | undefined; shared?: SharedBuildCache | undefined },
  rootDir: string,
): Promise<ProjectCache> {
  await Promise.all(['deps', 'framework', 'tmp'].map((name) => mkdir(join(options.dir, name), { recursive: true })));
  return {
    dir: options.dir,
    maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
    maxEntries: Math.max(1, options.maxEntries ?? DEFAULT_MAX_ENTRIES),
    op: await probeFileOp(join(options.dir, 'tmp'), rootDir),
    shared: options.shared,
  };
}

/**
 * Put the cached node_modules for `key` into `rootDir` (and, for a workspace, each package's
 * own node_modules that was saved with it). Returns undefined on a miss, also when the entry
 * turns out to have been written in place since it was saved (it is then removed) or vanishes
 * under an eviction mid-way; a partial tree is never left behind.
 */
export async function restoreDependencies(cache: ProjectCache, key: string, rootDir: string, log: LogFn, opts: CheckoutOptions = {}): Promise<{ files: number; ms: number } | undefined> {
  const entryDir = join(cache.dir, 'deps', key);
  let info = await readEntry(entryDir);
  // not here: another worker may have saved it
  if (info === undefined && (await pullShared(cache, 'deps', key, entryDir, log))) info = await readEntry(entryDir);
  if (info === undefined) return undefined;
  const { owner } = opts;
  if (owner !== undefined && info.readOnly !== true) {
    // saved before entries were sealed: its files may be writable by a build user
    log(`Cached node_modules (key ${short(key)}) predates read-only cache entries; discarding it and installing`);
    await removeDir(cache, entryDir);
    return undefined;
  }
  const started = Date.now();
  const within = opts.within ?? rootDir;
  const placed: string[] = [];
  const undo = () => Promise.all(placed.map((target) => rm(target, { recursive: true, force: true })));
  let [files, copied] = [0, 0];
  try {
    for (const tree of ['', ...(info.trees ?? [])]) {
      const rel = join(relative(within, rootDir), tree, 'node_modules');
      const place = await resolveBeneath(within, rel, { follow: false });
      if (place.kind === 'link' && place.at !== rel) {
        log(`Warning: not restoring node_modules from cache: ${place.at} is a symlink`);
        await undo();
        return undefined;
      }
      const target = place.kind === 'link' || place.kind === 'outside' ? join(within, place.at) : place.path;
      // a committed node_modules (or a symlink by that name) goes; rm removes a link, never what it points at
      await rm(target, { recursive: true, force: true });
      placed.push(target);
      const stats = await copyTree(entryTree(entryDir, tree), target, { op: cache.op, copyAlways: DEPENDENCY_COPY, measure: true, links: { at: target, within }, owner });
      // root-owned read-only files cannot have changed (see above); otherwise trust the times
      if (!(owner !== undefined && info.readOnly === true) && stats.newestMtimeMs > info.sealedAt) {
        log(`Warning: the cached node_modules (key ${short(key)}) was modified after it was saved (a build wrote into a file in place); discarding it and installing`);
        await undo();
        await removeDir(cache, entryDir);
        return undefined;
      }
      warnDropped(log, tree === '' ? 'node_modules' : `${tree}/node_modules`, stats.dropped);
      files += stats.files;
      copied += stats.copied;
    }
    const now = new Date();
    await utimes(join(entryDir, 'used'), now, now).catch(() => undefined);
    const ms = Date.now() - started;
    const packages = info.trees?.length ?? 0;
    log(`Restored node_modules${packages > 0 ? ` and ${packages} package node_modules` : ''} from cache (key ${short(key)}, ${files} files${describeOp(cache.op, copied)}) in ${formatSeconds(ms)}`);
    return { files, ms };
  } catch (err) {
    log(`Warning: could not restore node_modules from cache (${(err as Error).message}); installing`);
    await undo();
    return undefined;
  }
}

/** where a tree of an entry is kept: the root's at node_modules/, a workspace package's at workspace/<folder>/node_modules/ */
function entryTree(entryDir: string, tree: string): string {
  return tree === '' ? join(entryDir, 'node_modules') : join(entryDir, 'workspace', tree, 'node_modules');
}

/**
 * Save `rootDir/node_modules` as the entry for `key` (skipped when another build saved it
 * first), with the node_modules of those `trees` (workspace package folders below rootDir)
 * that have one. Never throws: a cache that cannot be written only costs speed.
 */
export async function saveDependencies(
  cache: ProjectCache,
  key: string,
  rootDir: string,
  packageManager: string,
  log: LogFn,
  opts: CheckoutOptions = {},
  trees: string[] = [],
): Promise<number | undefined> {
  const started = Date.now();
  const entryDir = join(cache.dir, 'deps', key);
  if ((await readEntry(entryDir)) !== undefined) return undefined;
  const within = opts.within ?? rootDir;
  const sources: { tree: string; path: string | undefined }[] = [];
  for (const tree of ['', ...trees]) {
    const rel = join(relative(within, rootDir), tree, 'node_modules');
    const source = await resolveBeneath(within, rel, { follow: false });
    if (source.kind !== 'dir' && source.kind !== 'missing') {
      log(`Warning: node_modules not saved to the cache: ${source.kind === 'link' ? `${source.at} is a symlink` : `${rel} is not a folder`}`);
      return undefined;
    }
    // a package without a node_modules of its own has nothing to save
    if (source.kind === 'dir' || tree === '') sources.push({ tree, path: source.kind === 'dir' ? source.path : undefined });
  }
  const temp = join(cache.dir, 'tmp', `deps-${key.slice(0, 16)}-${randomBytes(6).toString('hex')}`);
  try {
    await mkdir(temp);
    const stats = { files: 0, bytes: 0 };
    for (const { tree, path } of sources) {
      const to = entryTree(temp, tree);
      await mkdir(join(to, '..'), { recursive: true });
      // a project without dependencies gets an empty entry: the next build skips the install too
      const one =
        path === undefined
          ? await mkdir(to).then(() => ({ files: 0, bytes: 0, dropped: [] }))
          : await copyTree(path, to, { op: cache.op, skip: DEPENDENCY_SKIP, copyAlways: DEPENDENCY_COPY, measure: true, links: { at: path, within }, seal: true });
      warnDropped(log, tree === '' ? 'node_modules' : `${tree}/node_modules`, one.dropped);
      stats.files += one.files;
      stats.bytes += one.bytes;
    }
    // after the copy: copied files (a checkout on another file system, as the size-capped build
    // folder is) have the time of the copy, which must not count as written in place
    const sealedAt = Date.now();
    const saved = sources.map((s) => s.tree).filter((t) => t !== '');
    const info: EntryInfo = { key, packageManager, files: stats.files, bytes: stats.bytes, sealedAt, readOnly: process.getuid?.() === 0, ...(saved.length > 0 ? { trees: saved } : {}) };
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
    const packages = saved.length > 0 ? ` and ${saved.length} package node_modules` : '';
    log(`Saved node_modules${packages} to the cache (key ${short(key)}, ${stats.files} files, ${formatBytes(stats.bytes)}) in ${formatSeconds(ms)}`);
    await pushShared(cache, 'deps', key, entryDir, log);
    return ms;
  } catch (err) {
    log(`Warning: could not save node_modules to the cache (${(err as Error).message})`);
    await rm(temp, { recursive: true, force: true });
    return undefined;
  }
}

/** Copy the saved framework caches into `rootDir` (paths the checkout already has are left alone). */
export async function restoreFrameworkCache(cache: ProjectCache, rootDir: string, log: LogFn, opts: CheckoutOptions = {}, slot: CacheSlot = FRAMEWORK_SLOT): Promise<boolean> {
  const current = join(cache.dir, slot.name, 'current');
  let info = await readJson<{ paths: string[] }>(join(current, 'entry.json'));
  if (info === undefined && (await pullShared(cache, slot.name, 'current', current, log))) info = await readJson<{ paths: string[] }>(join(current, 'entry.json'));
  if (info === undefined) return false;
  const started = Date.now();
  const restored: string[] = [];
  const within = opts.within ?? rootDir;
  for (const path of info.paths.filter((p) => slot.paths.includes(p))) {
    // never through a link: a checkout's `.next -> /etc` must not make the worker write there
    const place = await resolveBeneath(within, join(relative(within, rootDir), path), { follow: false });
    if (place.kind === 'link') log(`Warning: not restoring ${path} from cache: ${place.at} is a symlink`);
    if (place.kind !== 'missing') continue;
    const made: string[] = [];
    try {
      made.push(...(await makeParents(within, place.path, opts.owner)));
      // a copy (or a clone), never a link: the build rewrites these files
      const stats = await copyTree(join(current, path), place.path, { op: cache.op === 'clone' ? 'clone' : 'copy', links: { at: place.path, within: place.path }, owner: opts.owner });
      warnDropped(log, path, stats.dropped);
      restored.push(path);
    } catch (err) {
      log(`Warning: could not restore ${path} from cache (${(err as Error).message})`);
      await rm(made[0] ?? place.path, { recursive: true, force: true });
    }
  }
  if (restored.length > 0) log(`Restored ${restored.join(', ')} from cache in ${formatSeconds(Date.now() - started)}`);
  return restored.length > 0;
}

/** Replace the saved framework caches with this build's. Returns whether the build had any. */
export async function saveFrameworkCache(cache: ProjectCache, rootDir: string, log: LogFn, opts: CheckoutOptions = {}, slot: CacheSlot = FRAMEWORK_SLOT): Promise<boolean> {
  const within = opts.within ?? rootDir;
  const present: { path: string; dir: string }[] = [];
  for (const path of slot.paths) {
    // a build's `.next/cache -> /somewhere` would carry host files into the next build: not followed
    const found = await resolveBeneath(within, join(relative(within, rootDir), path), { follow: false });
    if (found.kind === 'dir') present.push({ path, dir: found.path });
    else if (found.kind === 'link') log(`Warning: ${path} not saved to the cache: ${found.at} is a symlink`);
  }
  if (present.length === 0) return false;
  const started = Date.now();
  const temp = join(cache.dir, 'tmp', `${slot.name}-${randomBytes(6).toString('hex')}`);
  const current = join(cache.dir, slot.name, 'current');
  try {
    let bytes = 0;
    for (const { path, dir } of present) {
      await mkdir(join(temp, path, '..'), { recursive: true });
      const stats = await copyTree(dir, join(temp, path), { op: cache.op === 'clone' ? 'clone' : 'copy', measure: true });
      warnDropped(log, path, stats.dropped);
      bytes += stats.bytes;
    }
    if (bytes > cache.maxBytes / 2) {
      log(`Framework cache not saved: ${formatBytes(bytes)} is more than half the project's cache limit (${formatBytes(cache.maxBytes)})`);
      await rm(temp, { recursive: true, force: true });
      return true;
    }
    await writeFile(join(temp, 'entry.json'), JSON.stringify({ paths: present.map((p) => p.path), bytes, savedAt: Date.now() }));
    // swap: move the old one out, the new one in; a reader in between sees none (a miss), never a mix
    await removeDir(cache, current);
    await mkdir(join(cache.dir, slot.name), { recursive: true });
    try {
      await rename(temp, current);
    } catch (err) {
      if (!['EEXIST', 'ENOTEMPTY'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
      await rm(temp, { recursive: true, force: true });
    }
    log(`Saved ${present.map((p) => p.path).join(', ')} to the cache (${formatBytes(bytes)}) in ${formatSeconds(Date.now() - started)}`);
    await pushShared(cache, slot.name, 'current', current, log);
  } catch (err) {
    log(`Warning: could not save the ${slot.name} cache (${(err as Error).message})`);
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
    const used = await stat(join(depsDir, key, 'used')).then(
      (s) => s.mtimeMs,
      () => 0,
    );
    entries.push({ key, bytes: info.bytes, used });
  }
  entries.sort((a, b) => (a.key === keep ? -1 : b.key === keep ? 1 : b.used - a.used));
  let total = 0;
  for (const name of SLOT_NAMES) total += (await readJson<{ bytes: number }>(join(cache.dir, name, 'current', 'entry.json')))?.bytes ?? 0;
  const evicted: string[] = [];
  for (const [index, entry] of entries.entries()) {
    total += entry.bytes;
    if (entry.key === keep || (index < cache.maxEntries && total <= cache.maxBytes)) continue;
    total -= entry.bytes;
    await removeDir(cache, join(depsDir, entry.key));
    evicted.push(entry.key);
  }
  if (evicted.length > 0)
    log(`Dependency cache: evicted ${evicted.length} older entr${evicted.length === 1 ? 'y' : 'ies'} (keeping ${cache.maxEntries} at most, ${formatBytes(cache.maxBytes)} in all)`);
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
