/**
 * One worker process of the queue bench (bench/queue.ts): claims no-op jobs until the queue is
 * empty, completing each with the statement fenced by the claim's token, with
 * `SLIPWAY_BENCH_LOOPS` claim loops at once (a worker's build slots). Sends the deployment ids it
 * ran to the bench over IPC.
 */
import { join } from 'node:path';
import { Queue } from '../src/queue/index.js';
import { Store } from '../src/store/index.js';

const url = process.env.SLIPWAY_BENCH_DATABASE!;
const loops = Number(process.env.SLIPWAY_BENCH_LOOPS ?? 4);
const store = url.startsWith('postgres') ? await Store.openPostgres(url, { migrate: false, poolSize: loops + 1 }) : await Store.openSqlite(join(url, 'slipway.db'), { migrate: false });
const queue = new Queue(store, { leaseMs: 60_000 });
const ran: string[] = [];
let lost = 0;
// wait for the go signal so every worker starts at once
await new Promise<void>((resolve) => process.once('message', () => resolve()));
const startedAt = Date.now();
await Promise.all(
  Array.from({ length: loops }, async (_, i) => {
    for (;;) {
      const job = await queue.claim(`bench-${process.pid}-${i}`);
      if (job === undefined) return;
      ran.push(job.deploymentId);
      // a no-op job has nothing to decide: its completion is the fenced statement alone (a build
      // completes inside its project-scoped transaction, see run-job.ts)
      if (!(await queue.complete(store.db, job))) lost += 1;
    }
  }),
);
const finishedAt = Date.now();
await store.close();
process.send!({ ran, lost, startedAt, finishedAt });
