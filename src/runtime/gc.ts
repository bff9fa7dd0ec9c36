import { randomBytes } from 'node:crypto';
import { readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';

/** a half-written bundle (`.tmp-*`) older than this belongs to a materialize that died */
const STALE_TMP_MS = 60 * 60_000;

/**
 * Mark a materialized bundle as used now. The folder's mtime is the "last used" time every
 * process sharing the folder sees: each runtime touches a bundle when it starts a server from
 * it and, while the server runs, at every collection.
 */
export async function touchBundle(dir: string): Promise<void> {
  const now = new Date();
  await utimes(dir, now, now).catch(() => undefined);
}

/**
 * Remove bundles under `dir` not used for `unusedMs` (by any process: see touchBundle) and
 * not in `inUse` (this process's running and starting servers), and leftovers of interrupted
 * writes. A bundle is first renamed out of the way, so a server never starts in a half-removed
 * folder; a bundle is written again from the blob store when it is needed after all.
 * Returns the deployment ids removed.
 *
 * Within one process the runtime holds new materializations back while this runs. Across
 * processes one gap is left: another process starting a server from a bundle unused for a day
 * in the very moment this one removes it. That start fails and the next request writes the
 * bundle again.
 */
export async function collectBundles(dir: string, unusedMs: number, inUse: ReadonlySet<string>): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const removed: string[] = [];
  const now = Date.now();
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const path = join(dir, entry.name);
    if (entry.name.startsWith('.trash-')) {
      await rm(path, { recursive: true, force: true });
      continue;
    }
    const info = await stat(path).catch(() => undefined);
    if (info === undefined) continue;
    if (entry.name.startsWith('.tmp-')) {
      if (now - info.mtimeMs > STALE_TMP_MS) await rm(path, { recursive: true, force: true });
      continue;
    }
    if (inUse.has(entry.name) || now - info.mtimeMs < unusedMs) continue;
    const trash = join(dir, `.trash-${entry.name}-${randomBytes(4).toString('hex')}`);
    try {
      await rename(path, trash);
    } catch {
      continue; // another process collected it first
    }
    await rm(trash, { recursive: true, force: true });
    removed.push(entry.name);
  }
  return removed;
}
