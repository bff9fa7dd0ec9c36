import type { BlobStore } from '../blobs/index.js';
import { parseManifest } from '../manifest/index.js';
import type { Db, Deployment, Store } from '../store/index.js';
import { LIVE_WAIT_MS, recordLive, WARM_WAIT_MS, type WarmResult, warmEdges } from '../worker/go-live.js';

/**
 * Ready means live for a person's move (promote, rollback, a prebuilt upload), the same two
 * steps a finished build takes in ../worker/run-job.ts: warm an SSR deployment's server on every
 * live edge before its alias moves (its server may have stopped long ago), and after the move
 * record when every live edge serves it (`live_at`, which the move reset).
 */

/**
 * Before the alias moves to `d`: when it has a server, ask the live edges to start it and wait
 * for them (bounded by `timeoutMs`). Never throws: a failed warm-up only costs the edges a cold
 * start on the move. Returns undefined for a static deployment (nothing to warm).
 */
export async function warmForMove(store: Store, blobs: BlobStore, d: Pick<Deployment, 'id' | 'manifest_hash'>, timeoutMs = WARM_WAIT_MS): Promise<WarmResult | undefined> {
  if (d.manifest_hash === null) return undefined;
  try {
    const bytes = await blobs.get(d.manifest_hash);
    if (bytes === undefined || parseManifest(bytes).server === undefined) return undefined;
    return await warmEdges(store, { id: d.id, manifestHash: d.manifest_hash }, timeoutMs);
  } catch {
    return undefined;
  }
}

/**
 * After the move committed: record live_at once every live edge serves it (bounded by
 * LIVE_WAIT_MS). Callers do not wait for it before they answer; the CLI polls for liveAt.
 */
export function recordLiveAfterMove(store: Store, deploymentId: string): Promise<number | undefined> {
  return recordLive(store, deploymentId, LIVE_WAIT_MS);
}

/** In a move's transaction: not live until every edge serves this move, and the warm-up (if any) is over. */
export async function startLiveMove(db: Db, deploymentId: string): Promise<void> {
  await db.deleteFrom('warm_requests').where('deployment_id', '=', deploymentId).execute();
  await db.updateTable('deployments').set({ live_at: null }).where('id', '=', deploymentId).execute();
}
