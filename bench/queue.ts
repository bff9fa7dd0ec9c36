/**
 * Queue throughput: 4 worker processes claim and complete no-op jobs (claim with a lease, then
 * complete fenced by the claim's token) on SQLite and on PostgreSQL. Reports jobs per second from the first claim to the last completion, and how
 * many jobs ran twice (must be 0). The reference is the same run on SQLite (one writer, no
 * network). SLIPWAY_BENCH_JOBS (default 5000) sets the queue's length.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Queue } from '../src/queue/index.js';
import { Store } from '../src/store/index.js';
import { freshPostgres, postgresSkip, stopPostgres } from '../test/helpers/postgres.js';
import { tempDir } from '../test/helpers/paths.js';
import { addProject, enqueueBuild } from '../test/queue/fixture.js';

const JOBS = Number(process.env.SLIPWAY_BENCH_JOBS ?? 5000);
const WORKERS = 4;
const LOOPS = 4;

interface WorkerResult {
  ran: string[];
  lost: number;
  startedAt: number;
  finishedAt: number;
}

async function measure(location: string, store: Store): Promise<Record<string, string | number>> {
  await addProject(store);
  const queue = new Queue(store, { leaseMs: 60_000 });
  for (let i = 0; i < JOBS; i++) await enqueueBuild(store, queue);
  const workerModule = fileURLToPath(new URL('./queue-worker.js', import.meta.url));
  const children = Array.from({ length: WORKERS }, () =>
    fork(workerModule, [], { env: { ...process.env, SLIPWAY_BENCH_DATABASE: location, SLIPWAY_BENCH_LOOPS: String(LOOPS) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  const results = children.map(
    (child) =>
      new Promise<WorkerResult>((resolve, reject) => {
        child.once('message', (m) => resolve(m as WorkerResult));
        child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`a bench worker exited with ${code}`))));
      }),
  );
  // every worker has opened its store once it is listening; a short pause lets them all get there
  await new Promise((r) => setTimeout(r, 1500));
  for (const child of children) child.send('go');
  const done = await Promise.all(results);
  const ran = done.flatMap((d) => d.ran);
  const seconds = (Math.max(...done.map((d) => d.finishedAt)) - Math.min(...done.map((d) => d.startedAt))) / 1000;
  return {
    store: store.dialect,
    workers: `${WORKERS} processes x ${LOOPS} loops`,
    jobs: ran.length,
    'ran twice': ran.length - new Set(ran).size,
    'lost leases': done.reduce((n, d) => n + d.lost, 0),
    'jobs/s': Math.round(ran.length / seconds),
  };
}

export async function run() {
  const rows: Record<string, string | number>[] = [];
  const notes: string[] = [];
  const dir = await tempDir('slipway-bench-queue-');
  try {
    const sqlite = await Store.openSqlite(`${dir.path}/slipway.db`);
    rows.push(await measure(dir.path, sqlite));
    await sqlite.close();
    if (postgresSkip !== false) notes.push(`PostgreSQL skipped: ${postgresSkip}`);
    else {
      // a production server's durability: every commit flushed to disk
      process.env.SLIPWAY_PG_DURABLE = '1';
      const db = await freshPostgres();
      const pg = await Store.openPostgres(db.url, { migrate: false });
      rows.push(await measure(db.url, pg));
      await pg.close();
      await db.drop();
    }
  } finally {
    stopPostgres();
    await dir.cleanup();
  }
  notes.push(`${JOBS} no-op jobs; target on PostgreSQL > 1,000 jobs/s with none run twice.`);
  return { title: 'Queue throughput (4 workers, no-op jobs)', rows, notes };
}
