import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, copyFile, link, mkdir, rename, rm, stat, symlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { FileBlobStore } from '../blobs/index.js';
import { isBlobHash, type ServerBundle } from '../manifest/index.js';

const CONCURRENCY = 16;
const DEPLOYMENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Write a server bundle to `<dir>/<deploymentId>/` once and return that path. The bundle is
 * written to a temp folder and renamed into place, so the folder exists only when whole, and
 * two writers (in one process or several) never see each other's half: the loser of the rename
 * throws its copy away.
 *
 * Every file is read-only. Files under node_modules are hard links to the blob store (cheap:
 * one inode for every deployment that shares a package), but only to blobs that are read-only
 * and owned by the platform's user (LocalBlobStore writes them 0444, in the blob cache too), which a server, running
 * as another user on a read-only mount, cannot change. Other files are copies (a reflink where
 * the file system can), given their mode without write bits. What a server writes goes to its
 * deployment's own writable folder (see BundleDir). The bytes are checked against their hashes
 * by verifyBundle (./verify.ts) before a server starts.
 */
export async function materializeBundle(blobs: FileBlobStore, dir: string, deploymentId: string, bundle: ServerBundle): Promise<string> {
  if (!DEPLOYMENT_ID.test(deploymentId)) throw new Error(`not a deployment id: ${JSON.stringify(deploymentId)}`);
  checkBundle(bundle);
  const final = join(dir, deploymentId);
  if (await exists(final)) return final;

  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.tmp-${deploymentId}-${randomBytes(6).toString('hex')}`);
  try {
    await mkdir(tmp);
    const files = Object.entries(bundle.files);
    const folders = new Set(files.map(([path]) => posix.dirname(path)).filter((d) => d !== '.'));
    for (const folder of [...folders].sort()) await mkdir(join(tmp, folder), { recursive: true });
    await forEachLimit(files, CONCURRENCY, async ([path, file]) => {
      const dest = join(tmp, path);
      // a blob cache may evict the file between its fill and our link or copy: fill it once more
      for (let attempt = 0; ; attempt++) {
        try {
          await writeBundleFile(blobs, file, path, dest);
          return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 2) {
            throw (err as NodeJS.ErrnoException).code === 'ENOENT' ? new Error(`blob ${file.hash} of ${path} is not in the store`, { cause: err }) : err;
          }
        }
      }
    });
    // links last, so no file is ever written through one
    for (const [path, target] of Object.entries(bundle.symlinks ?? {})) {
      await mkdir(join(tmp, posix.dirname(path)), { recursive: true });
      await symlink(target, join(tmp, path));
    }
    await rename(tmp, final).catch(async (err: NodeJS.ErrnoException) => {
      // someone else renamed a whole copy into place first: theirs is as good as ours
      if ((err.code === 'ENOTEMPTY' || err.code === 'EEXIST') && (await exists(final))) return;
      throw err;
    });
    return final;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Remove `<dir>/<deploymentId>/` if it is there: renamed aside first, so that no one finds it
 * half removed, and the next materializeBundle writes it whole from the store again.
 */
export async function discardBundle(dir: string, deploymentId: string): Promise<void> {
  if (!DEPLOYMENT_ID.test(deploymentId)) throw new Error(`not a deployment id: ${JSON.stringify(deploymentId)}`);
  const trash = join(dir, `.trash-${deploymentId}-${randomBytes(4).toString('hex')}`);
  const moved = await rename(join(dir, deploymentId), trash).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
  if (moved) await rm(trash, { recursive: true, force: true });
}

/** One bundle file from the blob's local file: a hard link where that is safe, else a read-only copy. Throws ENOENT when the blob's file is gone. */
async function writeBundleFile(blobs: FileBlobStore, file: ServerBundle['files'][string], path: string, dest: string): Promise<void> {
  const source = await blobs.localPath(file.hash);
  if (source === undefined) throw new Error(`blob ${file.hash} of ${path} is not in the store`);
  if (path.startsWith('node_modules/') || path.includes('/node_modules/')) {
    const info = await stat(source);
    // one inode has one mode: link only when the executable bit agrees; and never a blob
    // another user, or anyone, could write: writing through the link would change every bundle sharing it
    const sealed = (info.mode & 0o222) === 0 && info.uid === process.getuid?.();
    if (sealed && ((info.mode & 0o111) !== 0) === ((file.mode & 0o111) !== 0)) {
      try {
        await link(source, dest);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw err;
        // another file system, or links not allowed: copy instead
      }
    }
  }
  await copyFile(source, dest, constants.COPYFILE_FICLONE);
  await chmod(dest, file.mode & ~0o222);
}

/** Refuse a bundle whose paths or links could write or point outside its folder. */
export function checkBundle(bundle: ServerBundle): void {
  const clean = (path: string) => path !== '' && !path.startsWith('/') && !path.includes('\\') && !path.includes('\0') && path.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
  if (typeof bundle.entry !== 'string' || !clean(bundle.entry)) throw new Error(`server bundle entry is not a clean path: ${JSON.stringify(bundle.entry)}`);
  for (const [path, file] of Object.entries(bundle.files)) {
    if (!clean(path)) throw new Error(`server bundle path is not clean: ${JSON.stringify(path)}`);
    if (!isBlobHash(file.hash)) throw new Error(`server bundle file ${path} has a bad hash`);
    if (file.mode !== 0o755 && file.mode !== 0o644) throw new Error(`server bundle file ${path} has mode ${file.mode.toString(8)}, not 755 or 644`);
  }
  for (const [path, target] of Object.entries(bundle.symlinks ?? {})) {
    if (!clean(path)) throw new Error(`server bundle symlink is not clean: ${JSON.stringify(path)}`);
    if (path in bundle.files) throw new Error(`server bundle path ${path} is both a file and a symlink`);
    // targets are stored normalised (see packageServer), so this lexical check is the real one
    const resolved = posix.normalize(posix.join(posix.dirname(path), target));
    if (target.startsWith('/') || target.includes('\0') || resolved === '..' || resolved.startsWith('../') || posix.normalize(target) !== target) {
      throw new Error(`server bundle symlink ${path} -> ${target} leaves the bundle`);
    }
  }
  // nothing may sit below a link: writing it would go through the link
  const links = new Set(Object.keys(bundle.symlinks ?? {}));
  for (const path of [...Object.keys(bundle.files), ...links]) {
    for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
      if (links.has(path.slice(0, i))) throw new Error(`server bundle path ${path} lies below the symlink ${path.slice(0, i)}`);
    }
  }
  if (!(bundle.entry in bundle.files) && !(bundle.entry in (bundle.symlinks ?? {}))) throw new Error(`server bundle entry ${bundle.entry} is not in the bundle`);
}

async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
