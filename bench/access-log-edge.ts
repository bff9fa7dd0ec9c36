/**
 * One edge process for the access-log benchmark: `node access-log-edge.js <on|off> <dir> <manifestHash>`.
 * Serves bench.localhost from <dir>/blobs; with "on" every request goes through the access log
 * observer and its batches into a SQLite store at <dir>/on.db (with its metrics counted), as in
 * `slipway up`. Prints "listening <port>".
 */
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createLogWriter, createRequestObserver } from '../src/access-log/index.js';
import { LocalBlobStore } from '../src/blobs/index.js';
import { createEdgeServer, createMemoryLookup } from '../src/edge/index.js';
import { createMetrics } from '../src/metrics/index.js';
import { Store } from '../src/store/index.js';

const [mode, dir, manifestHash] = process.argv.slice(2) as [string, string, string];
const DEPLOYMENT = 'dbench000001';
let close = async (): Promise<void> => undefined;
let observer: ReturnType<typeof createRequestObserver> | undefined;
if (mode === 'on' || mode === 'count') {
  const store = await Store.openSqlite(join(dir, `${mode}.db`), { migrate: true });
  const now = Date.now();
  await store.db
    .insertInto('projects')
    .values({ id: 'pbench', name: 'bench', repo_url: 'file:///bench', production_branch: 'main', webhook_secret: 'x', created_at: now } as never)
    .execute();
  await store.db
    .insertInto('deployments')
    .values({ id: DEPLOYMENT, project_id: 'pbench', seq: 1, status: 'ready', target: 'production', trigger: 'api', branch: 'main', commit_sha: 'a'.repeat(40), attempts: 0, created_at: now } as never)
    .execute();
  const writer = createLogWriter({
    store,
    metrics: createMetrics(),
    keepAccessLog: mode === 'on',
    ...(process.env.SLIPWAY_BENCH_ROWS === undefined ? {} : { maxRowsPerFlush: Number(process.env.SLIPWAY_BENCH_ROWS) }),
  });
  observer = createRequestObserver((entry) => writer.request(entry));
  close = async () => {
    await writer.close();
    const n = await store.db
      .selectFrom('access_logs')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirst();
    console.error(`access log rows kept: ${String(n?.n)}`);
    await store.close();
  };
}
const edge = createEdgeServer({
  lookup: createMemoryLookup({ 'bench.localhost': { deploymentId: DEPLOYMENT, manifestHash } }),
  blobs: new LocalBlobStore(join(dir, 'blobs')),
  ...(observer === undefined ? {} : { observer }),
});
edge.server.listen(0, '127.0.0.1', () => console.log(`listening ${(edge.server.address() as AddressInfo).port}`));
process.once('SIGTERM', () => {
  void edge
    .close()
    .then(close)
    .finally(() => process.exit(0));
});
