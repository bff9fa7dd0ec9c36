import { join } from 'node:path';
import { createLogWriter, createRequestObserver } from '../access-log/index.js';
import { answerMetricsRequests, createMetrics } from '../metrics/index.js';
import { LocalBlobStore } from '../blobs/index.js';
import { createStoreLookup } from '../routing/index.js';
import { loadSecretKey, SecretBox } from '../secrets.js';
import { openStore } from '../store/index.js';
import { createStoreTlsSource } from '../tls/edge-source.js';
import type { EdgeTlsOptions } from './https.js';
import { createRemoteGateway } from './runtime-ipc.js';
import { EDGE_CONFIG_ENV } from './worker-main-env.js';
import { runEdgeWorker } from './worker.js';

/**
 * Entry of one edge worker process (forked by startEdgeCluster in `slipway up`). It opens the
 * store itself and learns about alias moves by polling the alias generation.
 */
const raw = process.env[EDGE_CONFIG_ENV];
if (raw === undefined) throw new Error(`${EDGE_CONFIG_ENV} is not set; this module is started by "slipway up"`);
const { dataDir, databaseUrl, baseDomain, standbyMs, https, observability } = JSON.parse(raw) as {
  dataDir: string;
  /** set: PostgreSQL (see openStore) */
  databaseUrl?: string;
  baseDomain: string;
  standbyMs?: number;
  /** set when HTTPS is on: the operator's certificate files, if any */
  https?: { tlsCertFile?: string; tlsKeyFile?: string };
  /** the access log's settings (see src/metrics/config.ts) */
  observability?: { accessLog: boolean; logKeep: number };
};
const store = await openStore({ dataDir, databaseUrl }, { migrate: false, roles: ['edge'] });
let tls: EdgeTlsOptions | undefined;
if (https !== undefined) {
  // each worker reads certificates from the store itself, decrypting with the platform key
  const platformKey = await loadSecretKey(join(dataDir, 'secret.key'));
  const operator = https.tlsCertFile !== undefined && https.tlsKeyFile !== undefined ? { certFile: https.tlsCertFile, keyFile: https.tlsKeyFile } : undefined;
  tls = { source: createStoreTlsSource(store.db, new SecretBox(platformKey)), platformKey, ...(operator === undefined ? {} : { operator }) };
}
// a 10 ms poll is one indexed SQLite read per worker: cheap, and an alias move shows within ~10 ms
const blobs = new LocalBlobStore(join(dataDir, 'blobs'));
// the primary runs the node's one server per SSR deployment (see serveRuntime); this process
// asks it for the port and proxies to it directly
const servers = createRemoteGateway();
// this process's access log goes to the store in batches; its metrics to the primary's scrapes
const metrics = createMetrics();
const writer = createLogWriter({ store, metrics, keepAccessLog: observability?.accessLog ?? true, keepPerProject: observability?.logKeep });
const observer = createRequestObserver((entry) => writer.request(entry));
const stopAnswering = answerMetricsRequests(metrics.registry);
await runEdgeWorker({
  lookup: createStoreLookup(store, baseDomain),
  blobs,
  pollMs: 10,
  servers,
  standbyMs,
  observer,
  ...(tls === undefined ? {} : { tls }),
  onClose: async () => {
    stopAnswering();
    await writer.close();
    servers.close();
  },
});
