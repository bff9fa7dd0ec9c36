import { constants, type Stats } from 'node:fs';
import { chmod, chown, copyFile, lchown, link, lstat, mkdir, readdir, readlink, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, relative } from 'node:path';
import { isWithin } from '../beneath/index.js';

/**
 * How files get from one tree into another:
 * - clone: copy-on-write (btrfs, XFS, APFS): as cheap as a link, and a later write to either
 *   side never shows in the other
 * - link: hard link (ext4 and friends): cheap, but both names are one file, so a write in
 *   place through one shows through the other (the cache guards against that, see cache.ts)
 * - copy: plain copy (a clone when the file system happens to support it)
 */
export type FileOp = 'clone' | 'link' | 'copy';

export interface TreeOptions {
  op: FileOp;
  /** relative paths (with "/") to leave out, e.g. "node_modules/.cache" is given as ".cache" for a node_modules tree */
  skip?: ReadonlySet<string>;
  /** relative paths always copied, never linked: small files a package manager rewrites in place */
  copyAlways?: ReadonlySet<string>;
  /** lstat every file for sizes and times (costs one syscall per file) */
  measure?: boolean;
  /**
   * Where the tree's symlinks may point. `at` is the absolute path the tree's root stands for
   * (its source, or where the copy will be used) and `within` the folder links must stay in;
   * both default to `from`. A link leading out is dropped and listed in `dropped`.
   */
  links?: { at: string; within: string } | undefined;
  /** a build's user: folders, symlinks and copies made are given to it (linked files are not) */
  owner?: Owner | undefined;
  /**
   * Make every regular file placed read-only (write bits, setuid and setgid cleared) and, when
   * we are root, owned by root: a hard link then shares an inode no build user can write. A file
   * with other names (nlink > 1, e.g. in pnpm's store) is copied, never sealed in place.
   */
  seal?: boolean | undefined;
}

/** a uid and gid to hand folders and files to */
export interface Owner {
  uid: number;
  gid: number;
}

export interface TreeStats {
  files: number;
  /** bytes of regular files, each inode counted once; 0 unless measured */
  bytes: number;
  /** newest modification time among regular files not in copyAlways (epoch ms); 0 unless measured */
  newestMtimeMs: number;
  /** some files could not be linked or cloned (another file system) and were copied */
  copied: number;
  /** symlinks left out because they point outside `links.within` (relative paths) */
  dropped: string[];
}

/**
 * Recreate the tree at `from` under `to` (which must not exist) without following any symlink:
 * folders are made fresh, symlinks whose target stays inside `links.within` are recreated (the
 * target rewritten as a clean relative path, so pnpm's links into `.pnpm` stay valid), others
 * are dropped, regular files are linked, cloned or copied per `op`, and anything else (sockets,
 * fifos) is left out. `from` itself must be a real folder, not a symlink. Race-free only while
 * nothing else writes either tree (see beneath.ts).
 * `await copyTree('/cache/deps/abc/node_modules', '/src/node_modules', { op: 'link' })`
 */
export async function copyTree(from: string, to: string, options: TreeOptions): Promise<TreeStats> {
  const stats: TreeStats = { files: 0, bytes: 0, newestMtimeMs: 0, copied: 0, dropped: [] };
  const top = await lstat(from);
  if (!top.isDirectory()) throw new Error(`${from} is ${top.isSymbolicLink() ? 'a symlink' : 'not a folder'}`);
  const links = options.links ?? { at: from, within: from };
  const owner = options.owner;
  const sealAsRoot = options.seal === true && process.getuid?.() === 0;
  const inodes = new Set<number>();
  const walk = async (src: string, dst: string, rel: string): Promise<void> => {
    await mkdir(dst);
    if (owner !== undefined) await chown(dst, owner.uid, owner.gid);
    // the entry types come from readdir (lstat where the file system gives none): a symlink is never taken for what it points at
    const entries = await readdir(src, { withFileTypes: true });
    await Promise.all(
      entries.map(async (entry) => {
        const relPath = rel === '' ? entry.name : `${rel}/${entry.name}`;
        if (options.skip?.has(relPath) === true) return;
        const s = join(src, entry.name);
        const d = join(dst, entry.name);
        if (entry.isDirectory()) return walk(s, d, relPath);
        if (entry.isSymbolicLink()) {
          const target = keptLinkTarget(links, relPath, await readlink(s));
          if (target === undefined) {
            stats.dropped.push(relPath);
            return;
          }
          await symlink(target, d);
          if (owner !== undefined) await lchown(d, owner.uid, owner.gid);
          stats.files += 1;
          return;
        }
        if (!entry.isFile()) return;
        stats.files += 1;
        let copy = options.copyAlways?.has(relPath) === true;
        let info: Stats | undefined;
        if (options.measure === true || options.seal === true) {
          info = await lstat(s);
          if (!inodes.has(info.ino)) {
            inodes.add(info.ino);
            stats.bytes += info.size;
          }
          // a copy's time is when it was copied; only files that may be shared tell of writes in place
          if (!copy && info.mtimeMs > stats.newestMtimeMs) stats.newestMtimeMs = info.mtimeMs;
          // sealing changes the inode's owner and mode: never do that to one that has names elsewhere
          if (options.seal === true && info.nlink > 1) copy = true;
        }
        let placed: 'shared' | 'private';
        if (copy) {
          await copyFile(s, d, constants.COPYFILE_FICLONE);
          placed = 'private';
        } else {
          const how = await placeFile(s, d, options.op);
          if (how === 'copied') stats.copied += 1;
          placed = how === 'linked' ? 'shared' : 'private';
        }
        if (options.seal === true) {
          // a copy keeps the original's time, or a restore's check for writes in place would take it for one
          if (placed === 'private' && info !== undefined) await utimes(d, info.atime, info.mtime);
          if (sealAsRoot) await lchown(d, 0, 0);
          await chmod(d, (await lstat(d)).mode & 0o555);
        } else if (placed === 'private') {
          // this build's own copy (of a sealed file, say): its user may rewrite it
          if (owner !== undefined) await chown(d, owner.uid, owner.gid);
          await chmod(d, ((await lstat(d)).mode & 0o777) | 0o200);
        }
      }),
    );
  };
  await walk(from, to, '');
  return stats;
}

/**
 * The target to recreate the symlink at `relPath` (in a tree standing at `links.at`) with, or
 * undefined when it leaves `links.within`. Written as the normalised relative path: a target
 * like `x/../y` where `x` is itself a link could climb out in the kernel's resolution while
 * looking inside on paper; `y` cannot, and every link kept is checked the same way.
 */
function keptLinkTarget(links: { at: string; within: string }, relPath: string, raw: string): string | undefined {
  const linkDir = dirname(join(links.at, relPath));
  const resolved = isAbsolute(raw) ? normalize(raw) : join(linkDir, raw);
  if (!isWithin(links.within, resolved)) return undefined;
  return relative(linkDir, resolved) || '.';
}

/** how the file was placed: as asked (linked, or a clone or copy), or copied as a fallback */
async function placeFile(src: string, dst: string, op: FileOp): Promise<'linked' | 'placed' | 'copied'> {
  try {
    // link() never follows a symlink at `src`, and `src` is a regular file (see copyTree)
    if (op === 'link') await link(src, dst);
    else if (op === 'clone') await copyFile(src, dst, constants.COPYFILE_FICLONE_FORCE);
    else await copyFile(src, dst, constants.COPYFILE_FICLONE);
    return op === 'link' ? 'linked' : 'placed';
  } catch (err) {
    // EXDEV: another file system; EMLINK: the inode has too many links; ENOTSUP/EOPNOTSUPP/EINVAL: no clones here
    const code = (err as NodeJS.ErrnoException).code;
    if (op === 'copy' || !['EXDEV', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP', 'EINVAL', 'EPERM', 'ENOSYS'].includes(code ?? '')) throw err;
    await copyFile(src, dst);
    return 'copied';
  }
}

/**
 * The cheapest safe way to put files from `fromDir` into `toDir`: a clone when the file system
 * supports it, else a hard link, else a copy. Probed with a small file each time (a few
 * syscalls), because the two folders may sit on different file systems on another machine.
 */
export async function probeFileOp(fromDir: string, toDir: string): Promise<FileOp> {
  const name = `.slipway-probe-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const src = join(fromDir, name);
  const dst = join(toDir, name);
  await writeFile(src, 'probe');
  try {
    for (const op of ['clone', 'link'] as const) {
      try {
        if (op === 'clone') await copyFile(src, dst, constants.COPYFILE_FICLONE_FORCE);
        else await link(src, dst);
        return op;
      } catch {
        // not supported here: try the next
      } finally {
        await rm(dst, { force: true });
      }
    }
    return 'copy';
  } finally {
    await rm(src, { force: true });
  }
}
