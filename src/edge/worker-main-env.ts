/** How `slipway up` hands an edge worker process its settings (JSON: dataDir, baseDomain). */
export const EDGE_CONFIG_ENV = 'SLIPWAY_EDGE_WORKER_CONFIG';
