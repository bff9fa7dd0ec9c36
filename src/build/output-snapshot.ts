import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { OUTPUT_CANDIDATES } from './detect.js';

/** Entries walked per candidate folder: enough to see a build's writes, cheap for a big public/ */
const WALK_LIMIT = 5000;

/**
 * What the top of a project's root looked like just before the build command ran, so that
 * afterwards Slipway can tell which folders the build made or changed: a folder that was
 * there before and is unchanged (VitePress's `public/` of source files) is not build output.
 *
 * Cheap: one lstat per top-level entry, and for the output candidates (dist, build, out,
 * public) a bounded walk of their trees. Nothing is followed: a symlink is recorded as a
 * link, never entered; the walk only reads metadata, never a file. ctime is part of each
 * signature because a process cannot set it back (tools that keep mtimes when they copy,
 * `touch -d`, do not hide a write).
 */
export interface OutputSnapshot {
  /** top-level name -> signature of the entry itself (deep for the candidates) */
  readonly entries: ReadonlyMap<string, string>;
}

export async function snapshotOutputs(rootDir: string): Promise<OutputSnapshot> {
  const entries = new Map<string, string>();
  for (const name of (await readdir(rootDir)).sort()) {
    if (name === '.git' || name === 'node_modules') continue;
    entries.set(name, await signature(rootDir, name));
  }
  return { entries };
}

/** The top-level names the build created, and those it changed, since `before` (sorted; .git and node_modules left out). */
export async function changesSince(rootDir: string, before: OutputSnapshot): Promise<{ created: string[]; changed: string[] }> {
  const created: string[] = [];
  const changed: string[] = [];
  for (const name of (await readdir(rootDir)).sort()) {
    if (name === '.git' || name === 'node_modules') continue;
    const was = before.entries.get(name);
    if (was === undefined) created.push(name);
    else if (was !== (await signature(rootDir, name))) changed.push(name);
  }
  return { created, changed };
}

async function signature(rootDir: string, name: string): Promise<string> {
  const path = join(rootDir, name);
  const info = await lstat(path, { bigint: true }).catch(() => undefined);
  if (info === undefined) return 'gone';
  const own = `${info.isDirectory() ? 'd' : info.isSymbolicLink() ? 'l' : 'f'}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
  if (!info.isDirectory() || !(OUTPUT_CANDIDATES as readonly string[]).includes(name)) return own;
  // a write deep inside changes no top-level mtime: sum up the tree
  let count = 0;
  let size = 0n;
  let newest = 0n;
  const pending = [path];
  while (pending.length > 0 && count < WALK_LIMIT) {
    const dir = pending.shift()!;
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const child of names.sort()) {
      if (++count > WALK_LIMIT) break;
      const entry = await lstat(join(dir, child), { bigint: true }).catch(() => undefined);
      if (entry === undefined) continue;
      size += entry.size;
      for (const t of [entry.mtimeNs, entry.ctimeNs]) if (t > newest) newest = t;
      if (entry.isDirectory()) pending.push(join(dir, child));
    }
  }
  return `${own}:${count}:${size}:${newest}`;
}
