import { createLogWriter, createRequestObserver } from '../access-log/index.js';
import { answerMetricsRequests, createMetrics } from '../metrics/index.js';
import { openBlobs } from '../blobs/index.js';
import { createStoreLookup } from '../routing/index.js';
import { loadSecretKey, SecretBox } from '../secrets.js';
import { listenForChanges, openStore } from '../store/index.js';
import { createStoreTlsSource } from '../tls/edge-source.js';
import type { EdgeTlsOptions } from './https.js';
import { announceEdge } from './presence.js';
import { createRemoteGateway } from './runtime-ipc.js';
import { EDGE_CONFIG_ENV } from './worker-main-env.js';
import { runEdgeWorker } from './worker.js';

/**
 * Entry of one edge worker process (forked by startEdgeCluster in `slipway up`). It opens the
 * store itself and learns about alias moves by polling the alias generation (SQLite), or from
 * LISTEN/NOTIFY with a 1 s poll as the safety net (PostgreSQL); it announces itself in the
 * store's edges table and warms production-bound deployments (./presence.ts).
 */
const raw = process.env[EDGE_CONFIG_ENV];
if (raw === undefined) throw new Error(`${EDGE_CONFIG_ENV} is not set; this module is started by "slipway up"`);
const { dataDir, secretKeyFile, databaseUrl, blobUrl, blobCacheMb, baseDomain, awsEndpoint, standbyMs, https, observability } = JSON.parse(raw) as {
  dataDir: string;
  /** the platform key's file (config.secretKeyFile) */
  secretKeyFile: string;
  /** set: PostgreSQL (see openStore) */
  databaseUrl?: string;
  /** set: the bucket, read through <dataDir>/blob-cache, which the node's processes share (see openBlobs) */
  blobUrl?: string;
  blobCacheMb: number;
  baseDomain: string;
  /** SLIPWAY_AWS_ENDPOINT: where AWS previews' Function URLs are reached (see FunctionOrigin) */
  awsEndpoint?: string;
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
  const platformKey = await loadSecretKey(secretKeyFile);
  const operator = https.tlsCertFile !== undefined && https.tlsKeyFile !== undefined ? { certFile: https.tlsCertFile, keyFile: https.tlsKeyFile } : undefined;
  tls = { source: createStoreTlsSource(store.db, new SecretBox(platformKey)), platformKey, ...(operator === undefined ? {} : { operator }) };
}
// a 10 ms poll is one indexed SQLite read per worker: cheap, and an alias move shows within ~10 ms
const opened = await openBlobs({ dataDir, blobUrl, blobCacheMb });
// the primary runs the node's one server per SSR deployment (see serveRuntime); this process
// asks it for the port and proxies to it directly
const servers = createRemoteGateway();
// this process's access log goes to the store in batches; its metrics to the primary's scrapes
const metrics = createMetrics();
const writer = createLogWriter({ store, metrics, keepAccessLog: observability?.accessLog ?? true, keepPerProject: observability?.logKeep });
const observer = createRequestObserver(writer);
const stopAnswering = answerMetricsRequests(metrics.registry);
// on PostgreSQL a notification brings a move at once, and the 1 s poll is only the safety net
const changes = databaseUrl === undefined ? undefined : listenForChanges(databaseUrl);
const presence = await announceEdge({ store, changes });
const edge = await runEdgeWorker({
  lookup: createStoreLookup(store, baseDomain, { api: awsEndpoint }),
  blobs: opened.files,
  pollMs: changes === undefined ? 10 : 1000,
  changes,
  served: (generation) => presence.served(generation),
  servers,
  standbyMs,
  observer,
  ...(tls === undefined ? {} : { tls }),
  onClose: async () => {
    stopAnswering();
    await writer.close();
    await presence.close();
    await changes?.close();
    servers.close();
    await opened.close();
  },
});
presence.answerWarmRequests((site) => edge.warm(site));
