import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { toError } from '../errors/index.js';
import { clockSql, readCounter, type Store } from '../store/index.js';
import type { ChangeSignal, ResolvedSite } from './types.js';

/** How often a live edge writes its heartbeat; a worker counts it as gone after 3.5 s without one (../worker/go-live.ts). */
export const EDGE_HEARTBEAT_MS = 1000;
const HEARTBEAT_FAILED = 'could not write this edge’s heartbeat; it keeps serving';
const WARM_CHECK_FAILED = 'checking for warm requests failed';
/** a warm-up longer than this is acknowledged as failed (the worker's bounded wait is shorter anyway) */
const WARM_TIMEOUT_MS = 30_000;

export interface PresenceOptions {
  store: Store;
  changes?: ChangeSignal;
  /** how often to check for warm requests without a notification (default: 10 ms on SQLite, 1 s with `changes`) */
  warmPollMs?: number;
  log?: (message: string, error?: Error) => void;
}

export interface Presence {
  id: string;
  /** Start answering warm requests with the edge's warm step (EdgeServer.warm). */
  answerWarmRequests(warm: (site: ResolvedSite) => Promise<void>): void;
  /** The edge switched to this alias generation (EdgeOptions.served). */
  served(generation: number): void;
  /** Leave the table (a stopped edge must not hold a move back). */
  close(): Promise<void>;
}

/**
 * Announce one edge process in the store (`edges`: heartbeat, the generation it serves) and
 * answer warm requests: a worker about to move production to an SSR deployment asks every live
 * edge to start its server, and moves once each acknowledged or its bounded wait ran out (see
 * ../worker/go-live.ts). Timestamps are by the database's clock, as machines' clocks differ.
 *
 * ```ts
 * const presence = await announceEdge({ store, changes });
 * const edge = createEdgeServer({ ..., changes, served: (g) => presence.served(g) });
 * presence.answerWarmRequests((site) => edge.warm(site));
 * ```
 */
export async function announceEdge(opts: PresenceOptions): Promise<Presence> {
  const { store } = opts;
  const db = store.db;
  const print = opts.log ?? ((message: string, error?: Error) => console.error(`[edge] ${message}`, error?.message ?? ''));
  // while the store is away these fail every second: say so once, and again after it worked
  const failing = new Set<string>();
  const log = (message: string, error?: Error): void => {
    if (failing.has(message)) return;
    failing.add(message);
    print(message, error);
  };
  const recovered = (message: string): void => void failing.delete(message);
  const id = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  // rows of edges killed long ago (a stopped edge deletes its own): they count for nothing, but pile up
  await db
    .deleteFrom('edges')
    .where('heartbeat_at', '<', Date.now() - 3_600_000)
    .execute();
  await db
    .insertInto('edges')
    .values({ id, host: hostname(), pid: process.pid, started_at: Date.now(), heartbeat_at: clockSql(store), generation: 0 })
    .execute();

  let generation = 0;
  let closed = false;
  /** writes one at a time: a late heartbeat must not put back an older generation */
  let writing: Promise<void> = Promise.resolve();
  const write = (): void => {
    writing = writing
      .then(async () => {
        if (closed) return;
        await db
          .updateTable('edges')
          .set({ heartbeat_at: clockSql(store), generation })
          .where('id', '=', id)
          .execute();
        recovered(HEARTBEAT_FAILED);
      })
      .catch((error: unknown) => log(HEARTBEAT_FAILED, toError(error)));
  };
  const heartbeat = setInterval(write, EDGE_HEARTBEAT_MS);
  heartbeat.unref();

  // ---- warm requests ----
  const warming = new Set<string>();
  let lastWarmGeneration: number | undefined;
  let checking = false;
  let checkAgain = false;
  const checkWarm = async (): Promise<void> => {
    if (checking) {
      checkAgain = true;
      return;
    }
    checking = true;
    try {
      do {
        checkAgain = false;
        const now = await readCounter(db, 'warm_generation');
        if (now === lastWarmGeneration) continue;
        lastWarmGeneration = now;
        const pending = await db
          .selectFrom('warm_requests')
          .select(['deployment_id', 'manifest_hash'])
          .where(({ not, exists, selectFrom }) =>
            not(exists(selectFrom('warm_acks').select('edge_id').whereRef('warm_acks.deployment_id', '=', 'warm_requests.deployment_id').where('warm_acks.edge_id', '=', id))),
          )
          .execute();
        recovered(WARM_CHECK_FAILED);
        for (const request of pending) if (!warming.has(request.deployment_id)) void warmOne(request.deployment_id, request.manifest_hash);
      } while (checkAgain && !closed);
    } catch (error) {
      lastWarmGeneration = undefined; // read again on the next tick
      log(WARM_CHECK_FAILED, toError(error));
    } finally {
      checking = false;
    }
  };

  const warmOne = async (deploymentId: string, manifestHash: string): Promise<void> => {
    warming.add(deploymentId);
    let failure: string | null = null;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not warm after ${WARM_TIMEOUT_MS} ms`)), WARM_TIMEOUT_MS);
      });
      await Promise.race([warmStep!({ deploymentId, manifestHash }), timeout]);
    } catch (error) {
      failure = toError(error).message;
      print(`could not warm deployment ${deploymentId}; it switches when the alias moves`, toError(error));
    } finally {
      clearTimeout(timer);
    }
    try {
      if (!closed) {
        await db
          .insertInto('warm_acks')
          .values({ deployment_id: deploymentId, edge_id: id, acked_at: clockSql(store), error: failure })
          .onConflict((oc) => oc.columns(['deployment_id', 'edge_id']).doNothing())
          .execute();
      }
    } catch {
      // the request is gone (the alias moved without us): nothing to acknowledge
    } finally {
      warming.delete(deploymentId);
    }
  };

  let warmStep: ((site: ResolvedSite) => Promise<void>) | undefined;
  let warmTimer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;

  return {
    id,
    answerWarmRequests(warm) {
      if (warmStep !== undefined) return;
      warmStep = warm;
      warmTimer = setInterval(() => void checkWarm(), opts.warmPollMs ?? (opts.changes === undefined ? 10 : 1000));
      warmTimer.unref();
      unsubscribe = opts.changes?.subscribe((change) => {
        if (change === 'warm_generation' || change === 'reconnected') void checkWarm();
      });
      void checkWarm();
    },
    served(next) {
      if (next <= generation) return;
      generation = next;
      write(); // at once: a worker waits for every edge to serve the move
    },
    async close() {
      clearInterval(heartbeat);
      clearInterval(warmTimer);
      unsubscribe?.();
      await writing;
      closed = true;
      await db
        .deleteFrom('edges')
        .where('id', '=', id)
        .execute()
        .catch(() => undefined);
    },
  };
}
