import { type Db, dbNow, type Store } from '../store/index.js';

/**
 * The fence between the garbage collector's sweep and builds that reuse stored blobs.
 *
 * A build uploads only the blobs the store lacks, so its new manifest may point at a blob that
 * was stored long ago and that no kept manifest references any more; a sweep running at that
 * moment would delete it. A grace period on blob age does not help (the blob is old), so:
 * the collector bumps `generation` and sets `sweeping` in one store transaction before it
 * reads which manifests are kept; a build reads the fence before it packages and checks it in
 * the transaction that records its manifest. These transactions never overlap (BEGIN
 * IMMEDIATE on SQLite; on PostgreSQL the sweep's transaction takes the installation-wide lock,
 * which excludes the build's project-scoped one, see Store.tx), so either the build's transaction
 * came first (the collector's mark then sees the new manifest) or the fence moved (the build
 * waits for the sweep to end and packages again, which stores whatever went missing).
 */
export interface Fence {
  generation: number;
  /** false: a sweep was running when it was read, so it cannot vouch for anything */
  clean: boolean;
}

/** How long a collector's lease lasts without a renewal; a collector that stops renewing stops deleting first. */
export const LEASE_MS = 5 * 60_000;

/** The fence now; read it before looking at which blobs the store has. */
export async function readFence(db: Db): Promise<Fence> {
  const row = await db.selectFrom('gc_state').select(['generation', 'sweeping', 'lease_until']).where('id', '=', 'gc').executeTakeFirstOrThrow();
  return { generation: Number(row.generation), clean: !sweepRunning(row, await dbNow(db)) };
}

/** Inside the transaction that records a manifest: true when no sweep started since `fence` was read (and none was running then). */
export async function fenceHolds(db: Db, fence: Fence): Promise<boolean> {
  if (!fence.clean) return false;
  const now = await readFence(db);
  return now.clean && now.generation === fence.generation;
}

/** Wait until no sweep runs (polling the store), then read the fence again. */
export async function fenceAfterSweep(store: Store, signal?: AbortSignal, pollMs = 250): Promise<Fence> {
  for (;;) {
    const fence = await readFence(store.db);
    if (fence.clean) return fence;
    signal?.throwIfAborted();
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** A sweep whose collector stopped renewing its lease has stopped deleting (see LEASE_MS). Leases are by the database's clock (dbNow): machines' clocks differ. */
function sweepRunning(row: { sweeping: number; lease_until: number | null }, now: number): boolean {
  return Number(row.sweeping) === 1 && row.lease_until !== null && Number(row.lease_until) > now;
}

/** Take the collector's lease: false when another collector holds it. */
export async function takeLease(store: Store, owner: string): Promise<boolean> {
  return store.tx(async (db) => {
    const now = await dbNow(db);
    const row = await db.selectFrom('gc_state').select(['lease_owner', 'lease_until']).where('id', '=', 'gc').executeTakeFirstOrThrow();
    if (row.lease_owner !== null && row.lease_owner !== owner && row.lease_until !== null && Number(row.lease_until) > now) return false;
    await db
      .updateTable('gc_state')
      .set({ lease_owner: owner, lease_until: now + LEASE_MS, last_started_at: now, sweeping: 0 })
      .where('id', '=', 'gc')
      .execute();
    return true;
  });
}

/** Extend the lease; false when it was lost (another collector took it after it lapsed). */
export async function renewLease(store: Store, owner: string): Promise<boolean> {
  const r = await store.db
    .updateTable('gc_state')
    .set({ lease_until: (await dbNow(store.db)) + LEASE_MS })
    .where('id', '=', 'gc')
    .where('lease_owner', '=', owner)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** The sweep starts: every build that read the fence before this packages again before it goes ready. */
export async function startSweep(store: Store, owner: string): Promise<void> {
  await store.tx(async (db) => {
    const row = await db.selectFrom('gc_state').select(['generation']).where('id', '=', 'gc').executeTakeFirstOrThrow();
    const r = await db
      .updateTable('gc_state')
      .set({ generation: Number(row.generation) + 1, sweeping: 1, lease_until: (await dbNow(db)) + LEASE_MS })
      .where('id', '=', 'gc')
      .where('lease_owner', '=', owner)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) throw new Error('the garbage collector lost its lease before the sweep');
  });
}

/** Give the lease back and record the run's report. */
export async function releaseLease(store: Store, owner: string, report: unknown): Promise<void> {
  await store.db
    .updateTable('gc_state')
    .set({ lease_owner: null, lease_until: null, sweeping: 0, last_finished_at: Date.now(), ...(report === undefined ? {} : { last_report: JSON.stringify(report) }) })
    .where('id', '=', 'gc')
    .where('lease_owner', '=', owner)
    .execute();
}
