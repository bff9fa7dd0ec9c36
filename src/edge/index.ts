/** The edge: serves deployments' static files by Host. Other parts import only this file. */
export { createEdgeServer, type EdgeServer } from './server.js';
export { startEdgeCluster, type EdgeCluster, type EdgeClusterOptions } from './cluster.js';
export { runEdgeWorker } from './worker.js';
export { announceEdge, type Presence } from './presence.js';
export { createRemoteGateway, serveRuntime } from './runtime-ipc.js';
export { createMemoryLookup, type MemoryLookup } from './memory-lookup.js';
export { isFingerprinted } from './cache-control.js';
export type { EdgeOptions, HostRedirect, ResolvedHost, ResolvedRedirect, ResolvedSite, SiteLookup } from './types.js';
