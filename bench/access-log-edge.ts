/**
 * The edges of the access-log benchmark, all in one process so that they differ only in the
 * access log (same JIT, same CPU placement): `node access-log-edge.js <dir> <manifestHash>`.
 * Each serves bench.localhost from <dir>/blobs: "off" without an observer, "count" with the
 * observer and metrics but no rows kept, "on" storing its access log in batches into a SQLite
 * store at <dir>/on.db, as `slipway up` does, and "same", a second edge without an observer (the
 * noise floor: two identical edges measured alike). Prints "listening off=<port> on=<port> ...".
 */
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createLogWriter, createRequestObserver, type LogWriter } from '../src/access-log/index.js';
import { LocalBlobStore } from '../src/blobs/index.js';
import { createEdgeServer, createMemoryLookup, type EdgeServer } from '../src/edge/index.js';
import { createMetrics } from '../src/metrics/index.js';
import { Store } from '../src/store/index.js';

const [dir, manifestHash] = process.argv.slice(2) as [string, string];
const DEPLOYMENT = 'dbench000001';
const store = await Store.openSqlite(join(dir, 'on.db'), { migrate: true });
const now = Date.now();
await store.db
  .insertInto('projects')
  .values({ id: 'pbench', name: 'bench', repo_url: 'file:///bench', production_branch: 'main', webhook_secret: 'x', created_at: now } as never)
  .execute();
await store.db
  .insertInto('deployments')
  .values({ id: DEPLOYMENT, project_id: 'pbench', seq: 1, status: 'ready', target: 'production', trigger: 'api', branch: 'main', commit_sha: 'a'.repeat(40), attempts: 0, created_at: now } as never)
  .execute();
const rows = process.env.SLIPWAY_BENCH_ROWS === undefined ? {} : { maxRowsPerFlush: Number(process.env.SLIPWAY_BENCH_ROWS) };
const writers: LogWriter[] = [];
const edges: Record<string, EdgeServer> = {};
for (const mode of ['off', 'on', 'count', 'same']) {
  let observer: ReturnType<typeof createRequestObserver> | undefined;
  if (mode === 'on' || mode === 'count') {
    const writer = createLogWriter({ store, metrics: createMetrics(), keepAccessLog: mode === 'on', ...rows });
    writers.push(writer);
    observer = createRequestObserver(writer);
  }
  const edge = createEdgeServer({
    lookup: createMemoryLookup({ 'bench.localhost': { deploymentId: DEPLOYMENT, manifestHash } }),
    blobs: new LocalBlobStore(join(dir, 'blobs')),
    ...(observer === undefined ? {} : { observer }),
  });
  await new Promise<void>((resolve) => edge.server.listen(0, '127.0.0.1', resolve));
  edges[mode] = edge;
}
console.log(
  `listening ${Object.entries(edges)
    .map(([mode, e]) => `${mode}=${(e.server.address() as AddressInfo).port}`)
    .join(' ')}`,
);
process.once('SIGTERM', () => {
  void (async () => {
    for (const edge of Object.values(edges)) await edge.close();
    for (const writer of writers) await writer.close();
    const n = await store.db
      .selectFrom('access_logs')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirst();
    console.error(`access log rows kept: ${String(n?.n)}`);
    await store.close();
  })().finally(() => process.exit(0));
});
