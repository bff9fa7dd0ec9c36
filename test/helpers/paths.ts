import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/..., fixtures stay in test/fixtures). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const fixturesDir = join(repoRoot, 'test', 'fixtures');
/**
 * The Node.js releases test deployments run on, shared by every test's Slipway (a build with no
 * declared version gets the current LTS, about 50 MB from the registry: fetched once per checkout,
 * like node_modules, not once per test). Gitignored.
 */
export const testNodeCacheDir = process.env.SLIPWAY_NODE_CACHE_DIR ?? join(repoRoot, '.cache', 'node');

/** A fresh temp dir; call the returned cleanup in `after`/`t.after`. */
export async function tempDir(prefix = 'slipway-test-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => removeTree(path) };
}

/**
 * Remove `path` and everything below it, build folders still mounted there included: a Slipway
 * killed by a test (SIGKILL) between a build's end and its unmount leaves the build's disk image
 * mounted until the next start on that data dir sweeps it, and a mount point cannot be removed
 * (EBUSY). Tests that check what a platform leaves behind look before they clean up.
 */
export async function removeTree(path: string): Promise<void> {
  const mounts = await readFile('/proc/self/mounts', 'utf8').catch(() => '');
  const below = mounts
    .split('\n')
    .map((line) => (line.split(' ')[1] ?? '').replace(/\\040/g, ' '))
    .filter((target) => target.startsWith(`${path}/`))
    // the deepest first
    .sort((a, b) => b.length - a.length);
  for (const target of below) await new Promise<void>((done) => execFile('umount', ['-l', target], () => done()));
  await rm(path, { recursive: true, force: true });
}

/**
 * Run every cleanup, the last registered first, even when one throws (a cleanup left out could
 * be a process still running, which would keep the test file from ever exiting); then throw
 * the first error.
 */
export async function runCleanups(cleanups: Array<() => Promise<unknown>>): Promise<void> {
  const errors: unknown[] = [];
  for (const c of cleanups.splice(0).reverse()) await c().catch((err: unknown) => errors.push(err));
  if (errors.length > 0) throw errors[0];
}
