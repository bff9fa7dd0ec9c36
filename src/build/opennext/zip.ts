import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { constants } from 'node:fs';
import { Transform } from 'node:stream';
import yazl from 'yazl';

/** One fixed time for every entry (the zip format's epoch is 1980), so equal folders give equal bytes. */
const FIXED_MTIME = new Date(Date.UTC(1980, 0, 1, 0, 0, 0));

export interface ZipResult {
  /** the zip's size */
  bytes: number;
  /** what Lambda unpacks: the sum of the files' sizes */
  unzippedBytes: number;
  /** hex sha256 of the zip */
  sha256: string;
  files: number;
}

/**
 * Zip a folder the same way every time: entries sorted by path, one fixed mtime, modes kept
 * (executables stay executable, symbolic links stay links: Lambda's unzip restores both), and
 * nothing followed out of the folder. The folder is a build's output, written by project code:
 * every file is opened with O_NOFOLLOW and must still be a regular file.
 * `const { bytes, sha256 } = await zipFolder('.open-next/server-functions/default', '/tmp/server.zip')`
 */
export async function zipFolder(dir: string, zipPath: string): Promise<ZipResult> {
  const entries = await listEntries(dir, '');
  const zip = new yazl.ZipFile();
  let unzippedBytes = 0;
  for (const entry of entries) {
    const path = join(dir, entry.rel);
    if (entry.kind === 'dir') zip.addEmptyDirectory(entry.rel, { mtime: FIXED_MTIME, mode: 0o40755 });
    else if (entry.kind === 'link') {
      const target = Buffer.from(await readlink(path));
      unzippedBytes += target.length;
      zip.addBuffer(target, entry.rel, { mtime: FIXED_MTIME, mode: 0o120777, compress: false });
    } else {
      unzippedBytes += entry.size;
      // owner read-write, others read, and the execute bits where the file had them
      const mode = 0o100644 | (entry.mode & 0o111);
      // opened only when yazl gets to it: a function has thousands of files
      zip.addReadStreamLazy(entry.rel, { mtime: FIXED_MTIME, mode, size: entry.size }, (cb) => {
        openRegular(path, entry.size).then(
          (handle) => cb(null, handle.createReadStream()),
          (err: unknown) => cb(err instanceof Error ? err : new Error(String(err)), undefined as never),
        );
      });
    }
  }
  zip.end();
  const hash = createHash('sha256');
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  const failed = new Promise<never>((_, reject) => zip.once('error', reject));
  await Promise.race([pipeline(zip.outputStream, count, createWriteStream(zipPath)), failed]);
  return { bytes, unzippedBytes, sha256: hash.digest('hex'), files: entries.filter((e) => e.kind !== 'dir').length };
}

/** Open a file without following a link, and make sure it is still the regular file of the size listed. */
async function openRegular(path: string, size: number) {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  const info = await handle.stat();
  if (!info.isFile() || info.size !== size) {
    await handle.close();
    throw new Error(`${path} changed while it was zipped`);
  }
  return handle;
}

interface Entry {
  rel: string;
  kind: 'dir' | 'file' | 'link';
  size: number;
  mode: number;
}

/** Every entry under `dir`, depth first, sorted by name at each level (code-point order, not the locale's). */
async function listEntries(root: string, rel: string): Promise<Entry[]> {
  const out: Entry[] = [];
  const names = (await readdir(join(root, rel))).sort();
  for (const name of names) {
    const childRel = rel === '' ? name : `${rel}/${name}`;
    const info = await lstat(join(root, childRel));
    const entry = { rel: childRel, size: info.size, mode: info.mode };
    if (info.isSymbolicLink()) out.push({ ...entry, kind: 'link' });
    else if (info.isDirectory()) {
      out.push({ ...entry, kind: 'dir' });
      out.push(...(await listEntries(root, childRel)));
    } else if (info.isFile()) out.push({ ...entry, kind: 'file' });
    // sockets, fifos and devices have no place in a function
  }
  return out;
}
