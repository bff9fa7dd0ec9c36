import type { ResolvedSite, SiteLookup } from './types.js';

export interface MemoryLookup extends SiteLookup {
  /** Point `host` at a deployment (or at nothing) and bump the generation, as an alias move does. */
  set(host: string, site: ResolvedSite | undefined): void;
}

/**
 * A SiteLookup over an in-memory table, for tests, benchmarks and worker modules that read
 * their routes from a file. `createMemoryLookup({ 'blog.localhost': { deploymentId, manifestHash } })`
 */
export function createMemoryLookup(hosts: Record<string, ResolvedSite> = {}): MemoryLookup {
  const table = new Map(Object.entries(hosts));
  let generation = 0;
  return {
    resolveHost: (host) => Promise.resolve(table.get(host)),
    aliasGeneration: () => Promise.resolve(generation),
    set(host, site) {
      if (site === undefined) table.delete(host);
      else table.set(host, site);
      generation++;
    },
  };
}
