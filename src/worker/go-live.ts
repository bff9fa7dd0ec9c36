import { goLivePlan } from '../environments/index.js';
import { toError } from '../errors/index.js';
import type { Project, Store } from '../store/index.js';
import { bumpCounter, databaseNow, readCounter } from '../store/index.js';

/** How long a move waits for the edges to warm its server, and then for them to serve it. */
export const WARM_WAIT_MS = 10_000;
export const LIVE_WAIT_MS = 10_000;

/** An edge whose heartbeat is older than this is not live (see edge/presence.ts: it beats every second). */
const EDGE_STALE_MS = 3500;
/** how often the worker looks at the edges' answers while it waits */
const WAIT_POLL_MS = 10;

export interface WarmResult {
  /** live edges when the wait ended */
  edges: number;
  warmed: number;
  /** edges that answered with a failure, or not in time: they switch when the alias moves */
  late: number;
  waitedMs: number;
}

/**
 * Ready means live, step one: ask every live edge to start the server of a deployment that is
 * about to take production, and wait until each acknowledged or `timeoutMs` passed. An edge
 * that does not answer in time does not hold the move back; it starts the server on the move,
 * as before. The request is left for the move's transaction to delete (`clearWarmRequest`).
 */
export async function warmEdges(store: Store, deployment: { id: string; manifestHash: string }, timeoutMs: number): Promise<WarmResult> {
  const startedAt = Date.now();
  await store.tx(async (db) => {
    await db
      .insertInto('warm_requests')
      .values({ deployment_id: deployment.id, manifest_hash: deployment.manifestHash, requested_at: Date.now() })
      .onConflict((oc) => oc.column('deployment_id').doNothing())
      .execute();
    await bumpCounter(db, 'warm_generation'); // on PostgreSQL the trigger notifies the edges
  });
  for (;;) {
    const live = await liveEdges(store);
    const acks = await store.db.selectFrom('warm_acks').select(['edge_id', 'error']).where('deployment_id', '=', deployment.id).execute();
    const answered = new Map(acks.map((a) => [a.edge_id, a.error]));
    const warmed = live.filter((e) => answered.has(e.id) && answered.get(e.id) === null).length;
    const done = live.every((e) => answered.has(e.id));
    const waitedMs = Date.now() - startedAt;
    if (done || waitedMs >= timeoutMs) return { edges: live.length, warmed, late: live.length - warmed, waitedMs };
    await sleep(WAIT_POLL_MS);
  }
}

/**
 * Before a finished SSR build moves an alias by itself (production, or a named environment's
 * alias without approval): warm it on every live edge, and say in the build log how that went.
 */
export async function warmBeforeMove(store: Store, project: Project, deployment: { id: string; environment: string }, manifestHash: string, log: (line: string) => void): Promise<void> {
  const plan = await goLivePlan(store.db, project, deployment.environment);
  if (plan.waits || plan.alias === undefined || !plan.autoPromote) return;
  // the warm-up only saves the edges a cold start: a store hiccup here must not fail a good build
  const result = await warmEdges(store, { id: deployment.id, manifestHash }, WARM_WAIT_MS).catch((error: unknown) => {
    log(`Could not ask the edges to warm it (${toError(error).message}); they start it when the alias moves.`);
    return undefined;
  });
  if (result === undefined) return;
  if (result.edges === 0) return;
  if (result.late === 0) log(`Warmed on ${result.edges} edge${result.edges === 1 ? '' : 's'} in ${result.waitedMs} ms.`);
  else log(`Warmed on ${result.warmed} of ${result.edges} edges in ${result.waitedMs} ms; the others start it when the alias moves.`);
}

/**
 * Ready means live, step two, after the alias moved: wait until every live edge serves the
 * alias generation of the move (or a later one), then record `live_at`. With no live edge at
 * all it is live at once (nothing is left to switch). Returns live_at, or undefined when some
 * edge did not confirm within `timeoutMs` (live_at stays null; the edge switches when it can).
 */
export async function recordLive(store: Store, deploymentId: string, timeoutMs: number): Promise<number | undefined> {
  // the deployment is ready and its aliases moved whatever happens here: a failure only leaves live_at unset
  return waitLive(store, deploymentId, timeoutMs).catch(() => undefined);
}

async function waitLive(store: Store, deploymentId: string, timeoutMs: number): Promise<number | undefined> {
  const generation = await readCounter(store.db, 'alias_generation');
  const startedAt = Date.now();
  for (;;) {
    const live = await liveEdges(store);
    if (live.every((e) => e.generation >= generation)) {
      const liveAt = Date.now();
      await store.db.updateTable('deployments').set({ live_at: liveAt }).where('id', '=', deploymentId).where('live_at', 'is', null).execute();
      return liveAt;
    }
    if (Date.now() - startedAt >= timeoutMs) return undefined;
    await sleep(WAIT_POLL_MS);
  }
}

/** Edge processes with a recent heartbeat, by the database's clock (machines' clocks differ). */
async function liveEdges(store: Store): Promise<{ id: string; generation: number }[]> {
  const now = await databaseNow(store);
  const rows = await store.db
    .selectFrom('edges')
    .select(['id', 'generation'])
    .where('heartbeat_at', '>', now - EDGE_STALE_MS)
    .execute();
  return rows.map((r) => ({ id: r.id, generation: Number(r.generation) }));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
