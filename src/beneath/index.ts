import { constants } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';

/*
 * Paths inside a checkout are written by hostile code (the repository, its install scripts,
 * its build). The worker runs outside the sandbox, often as root, so it never hands such a
 * path to the kernel to resolve: it walks it one component at a time with lstat from a folder
 * it trusts (the checkout it created), like openat2's RESOLVE_BENEATH.
 *
 * This is race-free because the host only walks a checkout while none of its build processes
 * run: each command runs in a sandbox whose PID namespace dies with it (bwrap --unshare-pid
 * --die-with-parent), and the host resolves paths only between and after commands.
 */

export type Beneath =
  /** it exists; `path` is its absolute path with no symlink anywhere below the root */
  | { kind: 'dir' | 'file' | 'other'; path: string }
  /** nothing there; `path` is where it would be, every existing folder on the way is a real one */
  | { kind: 'missing'; path: string }
  /** without `follow`: a component (`at`, relative to the root) is a symlink */
  | { kind: 'link'; at: string }
  /** with `follow`: a symlink (`at`) leads out of the root, or links loop */
  | { kind: 'outside'; at: string };

const MAX_LINKS = 40;

/**
 * Resolve `rel` below `root` (an absolute path without symlinks, which the caller trusts). With
 * `follow`, symlinks are followed as long as every step stays inside the root; without it any
 * symlink on the way is refused.
 * `await resolveBeneath(checkout, 'apps/web/.next/cache', { follow: false })` → `{ kind: 'link', at: 'apps/web/.next' }`
 */
export async function resolveBeneath(root: string, rel: string, opts: { follow: boolean }): Promise<Beneath> {
  const parts = splitPath(rel);
  const current: string[] = [];
  let links = 0;
  for (let name = parts.shift(); name !== undefined; name = parts.shift()) {
    if (name === '..') {
      if (current.length === 0) return { kind: 'outside', at: rel };
      current.pop();
      continue;
    }
    const path = join(root, ...current, name);
    const info = await lstat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
      throw err;
    });
    if (info === undefined) return { kind: 'missing', path: join(path, ...parts) };
    if (info.isSymbolicLink()) {
      const at = relative(root, path);
      if (!opts.follow) return { kind: 'link', at };
      if (++links > MAX_LINKS) return { kind: 'outside', at };
      const target = await readlink(path);
      if (isAbsolute(target)) {
        const fromRoot = relative(root, target);
        if (!isWithin(root, target)) return { kind: 'outside', at };
        current.length = 0;
        parts.unshift(...splitPath(fromRoot));
      } else parts.unshift(...splitPath(target));
      continue;
    }
    current.push(name);
    if (parts.length > 0 && !info.isDirectory()) return { kind: 'missing', path: join(root, ...current, ...parts) };
    if (parts.length === 0) return { kind: info.isDirectory() ? 'dir' : info.isFile() ? 'file' : 'other', path };
  }
  return { kind: 'dir', path: join(root, ...current) };
}

/**
 * The bytes of the file at `rel` below `root`, following symlinks only while they stay inside;
 * undefined when no regular file is there that way (a link out of the root reads as none).
 * `await readFileBeneath(rootDir, 'package.json')`
 */
export async function readFileBeneath(root: string, rel: string): Promise<Buffer | undefined> {
  const found = await resolveBeneath(root, rel, { follow: true });
  if (found.kind !== 'file') return undefined;
  const file = await open(found.path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return await file.readFile();
  } finally {
    await file.close();
  }
}

/** true when `path` is `root` or below it, by the text of both (no file system access) */
export function isWithin(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

function splitPath(rel: string): string[] {
  return rel.split(/[\\/]+/).filter((part) => part !== '' && part !== '.');
}
