import { join } from 'node:path';
import type { LocalBlobStore } from '../blobs/index.js';
import type { ServerGateway } from '../edge/types.js';
import { Runtime } from './runtime.js';

/**
 * The runtime as the edge sees it: one Runtime per edge process, materializing bundles under
 * `<data-dir>/runtime` (shared by the processes; materializing is idempotent).
 */
export interface ServerLimits {
  memoryMb: number;
  requestTimeoutMs: number;
  idleMs: number;
}

export function createRuntimeGateway(blobs: LocalBlobStore, dataDir: string, limits: ServerLimits): { gateway: ServerGateway; runtime: Runtime } {
  const runtime = new Runtime({
    blobs,
    dir: join(dataDir, 'runtime'),
    ...(limits.memoryMb > 0 ? { memoryLimitMb: limits.memoryMb } : {}),
    requestTimeoutMs: limits.requestTimeoutMs,
    idleMs: limits.idleMs,
    // servers cannot read the platform's database, keys or other deployments, and die with us
    sandbox: { hidden: [dataDir] },
  });
  const gateway: ServerGateway = {
    ensure: (deploymentId, bundle) => runtime.ensure(deploymentId, bundle, {}),
    proxy: (req, res, deploymentId, target, opts) => runtime.proxy(req, res, deploymentId, target, opts),
    upgrade: (req, socket, head, deploymentId, target, opts) => runtime.proxyUpgrade(req, socket, head, deploymentId, target, opts),
    pin: (ids) => runtime.pin(ids),
    drain: (deploymentId, graceMs) => runtime.drain(deploymentId, graceMs),
  };
  return { gateway, runtime };
}
