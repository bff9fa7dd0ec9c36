/**
 * Edge worker module for the cluster SSR tests: routes come from a JSON file named by
 * SLIPWAY_TEST_SSR_EDGE_CONFIG ({ blobRoot, standbyMs, generation, hosts }), read again on
 * every poll, so the test moves an alias in every worker by rewriting the file. Servers come
 * from the primary's runtime (createRemoteGateway). Without the variable it does nothing.
 */
import { readFileSync } from 'node:fs';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { createRemoteGateway, runEdgeWorker, type ResolvedSite, type SiteLookup } from '../../src/edge/index.js';

export const SSR_CONFIG_ENV = 'SLIPWAY_TEST_SSR_EDGE_CONFIG';

export interface SsrEdgeConfig {
  blobRoot: string;
  standbyMs: number;
  generation: number;
  hosts: Record<string, ResolvedSite>;
}

const configFile = process.env[SSR_CONFIG_ENV];
if (configFile !== undefined) {
  const read = () => JSON.parse(readFileSync(configFile, 'utf8')) as SsrEdgeConfig;
  const lookup: SiteLookup = {
    resolveHost: (host) => Promise.resolve(read().hosts[host]),
    aliasGeneration: () => Promise.resolve(read().generation),
  };
  const servers = createRemoteGateway();
  await runEdgeWorker({ lookup, blobs: new LocalBlobStore(read().blobRoot), servers, standbyMs: read().standbyMs, drainGraceMs: 2000, pollMs: 20, onClose: async () => servers.close() });
}
