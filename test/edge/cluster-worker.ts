/**
 * Edge worker module for the cluster tests: routes come from a JSON file named by
 * SLIPWAY_TEST_EDGE_CONFIG ({ blobRoot, hosts: { host: { deploymentId, manifestHash } } }).
 * Without that variable (e.g. when the test runner loads every file here) it does nothing.
 */
import { readFileSync } from 'node:fs';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { createMemoryLookup, runEdgeWorker, type ResolvedSite } from '../../src/edge/index.js';

export const CONFIG_ENV = 'SLIPWAY_TEST_EDGE_CONFIG';

const configFile = process.env[CONFIG_ENV];
if (configFile !== undefined) {
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as { blobRoot: string; hosts: Record<string, ResolvedSite> };
  await runEdgeWorker({ lookup: createMemoryLookup(config.hosts), blobs: new LocalBlobStore(config.blobRoot) });
}
