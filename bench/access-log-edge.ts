/**
 * One edge of the access-log benchmark: `node access-log-edge.js <dir> <manifestHash> <mode>`.
 * It serves bench.localhost from <dir>/blobs: "off" (and "twin", a second one for the noise
 * floor) without an observer, "count" with the observer and metrics but no rows kept, "on"
 * storing its access log in batches into its own SQLite store at <dir>/<mode>.db, as
 * `slipway up` does. Each mode runs in its own process (its own event loop, as an edge process
 * of a Slipway has) and prints "listening <port>".
 */
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createLogWriter, createRequestObserver, type LogWriter } from '../src/access-log/index.js';
import { LocalBlobStore } from '../src/blobs/index.js';
import { createEdgeServer, createMemoryLookup } from '../src/edge/index.js';
import { createMetrics } from '../src/metrics/index.js';
import { Store } from '../src/store/index.js';

const [dir, manifestHash, mode] = process.argv.slice(2) as [string, string, string];
const DEPLOYMENT = 'dbench000001';
let store: Store | undefined;
let writer: LogWriter | undefined;
if (mode === 'on' || mode === 'count') {
  store = await Store.openSqlite(join(dir, `${mode}.db`), { migrate: true });
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
  writer = createLogWriter({ store, metrics: createMetrics(), keepAccessLog: mode === 'on', ...rows });
}
const edge = createEdgeServer({
  lookup: createMemoryLookup({ 'bench.localhost': { deploymentId: DEPLOYMENT, manifestHash } }),
  blobs: new LocalBlobStore(join(dir, 'blobs')),
  ...(writer === undefined ? {} : { observer: createRequestObserver(writer) }),
});
await new Promise<void>((resolve) => edge.server.listen(0, '127.0.0.1', resolve));
console.log(`listening ${(edge.server.address() as AddressInfo).port}`);
process.once('SIGTERM', () => {
  void (async () => {
    await edge.close();
    await writer?.close();
    if (store !== undefined) {
      const n = await store.db
        .selectFrom('access_logs')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirst();
      if (mode === 'on') console.error(`access log rows kept: ${String(n?.n)}`);
      await store.close();
    }
  })().finally(() => process.exit(0));
});
