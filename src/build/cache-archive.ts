import { execFile } from 'node:child_process';
import { lstat, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** an archive of a large node_modules takes a while; a hung tar must not hold a build forever */
const TAR_TIMEOUT_MS = 10 * 60_000;
/** listings of large trees are long */
const MAX_LISTING = 512 * 1024 * 1024;

/**
 * Pack the folder `dir` (its contents, not the folder itself) into the tar file `file` with the
 * system tar. Hard links are stored as the files' bytes (--hard-dereference), so an archive
 * holds only files, folders and symlinks; owners are numeric and never restored.
 */
export async function packTree(dir: string, file: string): Promise<void> {
  await run('tar', ['--create', '--file', file, '--directory', dir, '--numeric-owner', '--hard-dereference', '.'], { timeout: TAR_TIMEOUT_MS });
}

/**
 * Unpack the tar file `file` into `into` (made here; it must not exist). The archives are the
 * platform's own, but unpacking is safe all the same: every member must be a plain file, folder
 * or symlink with a relative path that has no `..`, checked from tar's own listing before a
 * byte is written; GNU tar itself does not write through a symlink the archive made (a link
 * that leaves the folder is created only after every file is in place); owners are not restored
 * (what root unpacks stays root's). Links are kept as they are: the restore that copies the
 * tree into a checkout decides which ones may stay (see copyTree's `links`). Throws on a bad archive.
 */
export async function unpackTree(file: string, into: string): Promise<void> {
  const { stdout: names } = await run('tar', ['--list', '--file', file], { timeout: TAR_TIMEOUT_MS, maxBuffer: MAX_LISTING });
  for (const name of names.split('\n')) {
    if (name === '') continue;
    const parts = name.replace(/\/$/, '').split('/');
    if (name.startsWith('/') || parts.some((p) => p === '..')) throw new Error(`the archive has a member outside its folder: ${JSON.stringify(name)}`);
  }
  const { stdout: verbose } = await run('tar', ['--list', '--verbose', '--file', file], { timeout: TAR_TIMEOUT_MS, maxBuffer: MAX_LISTING });
  for (const line of verbose.split('\n')) {
    // the first character of `ls -l`-like lines is the type: - file, d folder, l symlink (h hard link, c/b/p devices and fifos are refused)
    if (line !== '' && !['-', 'd', 'l'].includes(line[0] ?? '')) throw new Error(`the archive has a member that is not a file, folder or symlink: ${line}`);
  }
  await mkdir(into);
  await run('tar', ['--extract', '--file', file, '--directory', into, '--no-same-owner', '--no-overwrite-dir'], { timeout: TAR_TIMEOUT_MS });
}

/** Whether any regular file below `dir`'s sub-folders has a write bit (a dependency tree that should be sealed is not; the entry's own top-level files do not count). */
export async function hasWritableFile(dir: string): Promise<boolean> {
  const top = await readdir(dir, { withFileTypes: true });
  const below = await Promise.all(top.filter((e) => e.isDirectory()).map((e) => readdir(join(dir, e.name), { recursive: true, withFileTypes: true })));
  for (const entry of below.flat()) {
    if (!entry.isFile()) continue;
    const info = await lstat(join(entry.parentPath, entry.name));
    if ((info.mode & 0o222) !== 0) return true;
  }
  return false;
}
