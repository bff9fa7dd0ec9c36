import { createHash } from 'node:crypto';
import { constants, type BigIntStats } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerBundle } from '../manifest/index.js';

/** A materialized bundle file whose bytes are not the ones the deployment was built with. */
export class BundleIntegrityError extends Error {
  constructor(
    readonly deploymentId: string,
    readonly path: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${path} of the server bundle does not match the manifest: expected sha256 ${expected}, found ${actual}; the server is not started on changed bytes`);
    this.name = 'BundleIntegrityError';
  }
}

/** path -> how the file looked when its bytes last hashed right (see lookOf) */
export type VerifiedLooks = Map<string, string>;

const CONCURRENCY = 16;
/** files up to this size are hashed from one read, larger ones streamed */
const SMALL_FILE = 1024n * 1024n;

/**
 * Check every file of a materialized bundle against its hash, or throw a BundleIntegrityError.
 * A file that still looks as it did when it last hashed right (`known`: same device, inode,
 * size, mtime and ctime; any write changes the ctime, which no one can set back) is not read
 * again, so a start from a verified bundle costs one lstat per file. Returns the looks to
 * pass next time.
 *
 * Hard-linked files are the blob store's inodes: a blob changed after the bundle was written
 * is caught here on the next start.
 */
export async function verifyBundle(dir: string, deploymentId: string, bundle: ServerBundle, known: VerifiedLooks | undefined): Promise<VerifiedLooks> {
  const looks: VerifiedLooks = new Map();
  const files = Object.entries(bundle.files);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const [path, file] = files[next++]!;
      const full = join(dir, path);
      const seen = known?.get(path);
      if (seen !== undefined) {
        const now = await lstat(full, { bigint: true }).catch(() => undefined);
        if (now?.isFile() && lookOf(now) === seen) {
          looks.set(path, seen);
          continue;
        }
      }
      const { actual, look } = await hashFile(full);
      if (actual !== file.hash) throw new BundleIntegrityError(deploymentId, path, file.hash, actual);
      looks.set(path, look);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, files.length) }, worker));
  return looks;
}

/** sha256 of a regular file (a link in its place is refused), with how it looked while read. */
async function hashFile(path: string): Promise<{ actual: string; look: string }> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { actual: code === 'ELOOP' ? 'a symlink' : `nothing (${code ?? 'unreadable'})`, look: '' };
  }
  try {
    // a hard link made or removed meanwhile (another bundle sharing the blob) changes the ctime
    // too: read again a few times before calling the file unstable
    for (let attempt = 0; attempt < 3; attempt++) {
      const before = await handle.stat({ bigint: true });
      if (!before.isFile()) return { actual: 'not a regular file', look: '' };
      const digest = createHash('sha256');
      // most bundle files are small: one read is much cheaper than a stream per file
      if (before.size <= SMALL_FILE) digest.update(await readAt0(handle, Number(before.size)));
      else for await (const chunk of handle.createReadStream({ start: 0, autoClose: false })) digest.update(chunk as Buffer);
      const after = await handle.stat({ bigint: true });
      if (lookOf(after) === lookOf(before)) return { actual: digest.digest('hex'), look: lookOf(before) };
    }
    // written while it was read: what was hashed is not what the server would run
    return { actual: 'bytes that kept changing while they were read', look: '' };
  } finally {
    await handle.close();
  }
}

/** The first `size` bytes, read by position (a retry must not start where the last read ended). */
async function readAt0(handle: FileHandle, size: number): Promise<Buffer> {
  const bytes = Buffer.alloc(size);
  let done = 0;
  while (done < size) {
    const { bytesRead } = await handle.read(bytes, done, size - done, done);
    if (bytesRead === 0) return bytes.subarray(0, done); // shorter than it was: the hash will not match
    done += bytesRead;
  }
  return bytes;
}

function lookOf(s: BigIntStats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}
