import { mkdtemp, rm } from 'node:fs/promises';
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
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}
