import { join } from 'node:path';
import { LocalBlobStore } from '../blobs/index.js';
import { createStoreLookup } from '../routing/index.js';
import { deploymentServerSettings } from '../deployments/index.js';
import { createRuntimeGateway, type ServerLimits } from '../runtime/index.js';
import { loadSecretKey, SecretBox } from '../secrets.js';
import { Store } from '../store/index.js';
import { EDGE_CONFIG_ENV } from './worker-main-env.js';
import { runEdgeWorker } from './worker.js';

/**
 * Entry of one edge worker process (forked by startEdgeCluster in `slipway up`). It opens the
 * store itself and learns about alias moves by polling the alias generation.
 */
const raw = process.env[EDGE_CONFIG_ENV];
if (raw === undefined) throw new Error(`${EDGE_CONFIG_ENV} is not set; this module is started by "slipway up"`);
const { dataDir, baseDomain, limits, standbyMs } = JSON.parse(raw) as { dataDir: string; baseDomain: string; limits: ServerLimits; standbyMs?: number };
const store = await Store.openSqlite(join(dataDir, 'slipway.db'), { migrate: false });
// a 10 ms poll is one indexed SQLite read per worker: cheap, and an alias move shows within ~10 ms
const blobs = new LocalBlobStore(join(dataDir, 'blobs'));
// each edge process runs the servers of the SSR deployments it proxies to
// with the deployment's own variables (decrypted here: the edge shares the data dir and its key) and limits
const box = new SecretBox(await loadSecretKey(join(dataDir, 'secret.key')));
const { gateway, runtime } = createRuntimeGateway(blobs, dataDir, limits, (id) => deploymentServerSettings(store.db, box, id));
await runEdgeWorker({ lookup: createStoreLookup(store, baseDomain), blobs, pollMs: 10, servers: gateway, standbyMs, onClose: () => runtime.close() });
