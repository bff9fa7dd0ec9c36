import { constants } from 'node:fs';
import { copyFile, link, lstat, mkdir, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

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
}

export interface TreeStats {
  files: number;
  /** bytes of regular files, each inode counted once; 0 unless measured */
  bytes: number;
  /** newest modification time among regular files not in copyAlways (epoch ms); 0 unless measured */
  newestMtimeMs: number;
  /** some files could not be linked or cloned (another file system) and were copied */
  copied: number;
}

/**
 * Recreate the tree at `from` under `to` (which must not exist): folders are made fresh,
 * symlinks are recreated with the same target text (so relative links, like pnpm's into
 * `.pnpm`, stay valid), regular files are linked, cloned or copied per `op`, and anything
 * else (sockets, fifos) is left out.
 * `await copyTree('/cache/deps/abc/node_modules', '/src/node_modules', { op: 'link' })`
 */
export async function copyTree(from: string, to: string, options: TreeOptions): Promise<TreeStats> {
  const stats: TreeStats = { files: 0, bytes: 0, newestMtimeMs: 0, copied: 0 };
  const inodes = new Set<number>();
  const walk = async (src: string, dst: string, rel: string): Promise<void> => {
    await mkdir(dst);
    const entries = await readdir(src, { withFileTypes: true });
    await Promise.all(
      entries.map(async (entry) => {
        const relPath = rel === '' ? entry.name : `${rel}/${entry.name}`;
        if (options.skip?.has(relPath) === true) return;
        const s = join(src, entry.name);
        const d = join(dst, entry.name);
        if (entry.isDirectory()) return walk(s, d, relPath);
        if (entry.isSymbolicLink()) {
          await symlink(await readlink(s), d);
          stats.files += 1;
          return;
        }
        if (!entry.isFile()) return;
        stats.files += 1;
        const copy = options.copyAlways?.has(relPath) === true;
        if (options.measure === true) {
          const info = await lstat(s);
          if (!inodes.has(info.ino)) {
            inodes.add(info.ino);
            stats.bytes += info.size;
          }
          // a copy's time is when it was copied; only files that may be shared tell of writes in place
          if (!copy && info.mtimeMs > stats.newestMtimeMs) stats.newestMtimeMs = info.mtimeMs;
        }
        if (copy) await copyFile(s, d, constants.COPYFILE_FICLONE);
        else if (!(await placeFile(s, d, options.op))) stats.copied += 1;
      }),
    );
  };
  await walk(from, to, '');
  return stats;
}

/** true when placed as asked; false when it had to fall back to a copy */
async function placeFile(src: string, dst: string, op: FileOp): Promise<boolean> {
  try {
    if (op === 'link') await link(src, dst);
    else if (op === 'clone') await copyFile(src, dst, constants.COPYFILE_FICLONE_FORCE);
    else await copyFile(src, dst, constants.COPYFILE_FICLONE);
    return true;
  } catch (err) {
    // EXDEV: another file system; EMLINK: the inode has too many links; ENOTSUP/EOPNOTSUPP/EINVAL: no clones here
    const code = (err as NodeJS.ErrnoException).code;
    if (op === 'copy' || !['EXDEV', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP', 'EINVAL', 'EPERM', 'ENOSYS'].includes(code ?? '')) throw err;
    await copyFile(src, dst);
    return false;
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
