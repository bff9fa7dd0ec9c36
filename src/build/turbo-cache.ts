import { restoreFrameworkCache, saveFrameworkCache, type CacheSlot, type CheckoutOptions, type ProjectCache } from './cache.js';
import type { LogFn } from './types.js';
import type { Workspace } from './workspace.js';

/*
 * Turborepo's own local cache, carried from one build of a project to the next like the
 * framework caches: a second build of an unchanged package replays its logs and outputs
 * ("cache hit", ">>> FULL TURBO") instead of building again. Turbo checks every entry against
 * the hash of the task's inputs, so a changed package still builds. It lives at the workspace
 * root, not in the app's folder: `.turbo/cache` (turbo 2) or `node_modules/.cache/turbo`
 * (turbo 1, which the dependency cache leaves out of node_modules).
 */
const TURBO_SLOT: CacheSlot = { name: 'turbo', paths: ['.turbo/cache', 'node_modules/.cache/turbo'] };

/** Before the build: put the last build's turbo cache back at the workspace root. Returns whether there was one. */
export async function restoreTurboCache(cache: ProjectCache, ws: Workspace | undefined, log: LogFn, checkout: CheckoutOptions): Promise<boolean> {
  if (ws?.orchestrator !== 'turbo') return false;
  return restoreFrameworkCache(cache, ws.dir, log, checkout, TURBO_SLOT);
}

/** After a successful build: keep this build's turbo cache for the next one. */
export async function saveTurboCache(cache: ProjectCache, ws: Workspace | undefined, log: LogFn, checkout: CheckoutOptions): Promise<void> {
  if (ws?.orchestrator !== 'turbo') return;
  await saveFrameworkCache(cache, ws.dir, log, checkout, TURBO_SLOT);
}
