import { sql } from 'kysely';
import { Worker } from 'node:worker_threads';
import { logger } from '../log/index.js';
import type { Store } from '../store/index.js';
import { packAccess } from './columns.js';
import type { LogBatch, LogBatchResult } from './log-thread.js';
import type { AccessEntry, ServerLine } from './store.js';

/**
 * Writes the access log's batches on a thread of their own (SQLite only). better-sqlite3 is
 * synchronous: inserting and trimming 2,000 rows a second cost the edge's event loop about
 * 10 ms a second, about 2 % of a busy edge's CPU, stolen from its requests. Here the event
 * loop only packs the rows (./columns.ts, about 0.3 ms a batch); the thread's own connection
 * keeps its statements prepared, which Kysely's driver does not (it prepares every query).
 */
export interface LogThread {
  /** store one batch and trim; resolves with the projects whose rows could not go in */
  write(access: Map<string, AccessEntry[]>, server: Map<string, ServerLine[]>, trims: LogBatch['trims'], keep: number): Promise<string[]>;
  close(): Promise<void>;
  /** false once the thread failed or exited: later batches go on the event loop */
  readonly alive: boolean;
}

const log = logger('access-log');

/** The thread for a store on a SQLite file; undefined for PostgreSQL or an in-memory database (written on the event loop as before). */
export async function startLogThread(store: Store): Promise<LogThread | undefined> {
  if (store.dialect !== 'sqlite') return undefined;
  const main = await sql<{ file: string }>`select file from pragma_database_list where name = 'main'`.execute(store.db);
  const file = main.rows[0]?.file ?? '';
  if (file === '') return undefined;
  const worker = new Worker(new URL('./log-thread.js', import.meta.url), { workerData: { file } });
  // buffered rows are lost on an exit without close() anyway; the thread must not hold the process
  worker.unref();
  const waiting = new Map<number, { resolve(failed: string[]): void; reject(error: Error): void }>();
  let failure: Error | undefined;
  const failAll = (error: Error): void => {
    failure = error;
    for (const w of waiting.values()) w.reject(error);
    waiting.clear();
  };
  worker.on('message', (result: LogBatchResult) => {
    const w = waiting.get(result.id);
    waiting.delete(result.id);
    if (result.error !== undefined) w?.reject(new Error(result.error));
    else w?.resolve(result.failed);
  });
  worker.on('error', (error) => {
    log.error({ err: error }, 'the access log thread failed; later batches are lost');
    failAll(error);
  });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  void exited.then(() => failAll(failure ?? new Error('the access log thread has exited')));
  let next = 0;
  return {
    get alive() {
      return failure === undefined;
    },
    write(access, server, trims, keep) {
      if (failure !== undefined) return Promise.reject(failure);
      const batch: LogBatch = {
        id: next++,
        access: [...access].map(([projectId, entries]) => packAccess(projectId, entries)),
        server: [...server].map(([projectId, lines]) => ({ projectId, lines })),
        trims,
        keep,
      };
      return new Promise<string[]>((resolve, reject) => {
        waiting.set(batch.id, { resolve, reject });
        worker.postMessage(
          batch,
          batch.access.map((c) => c.numbers.buffer as ArrayBuffer),
        );
      });
    },
    async close() {
      if (failure === undefined) {
        worker.ref(); // until it has closed its connection
        worker.postMessage('close');
      }
      await exited;
    },
  };
}
