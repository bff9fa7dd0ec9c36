import { join } from 'node:path';
import type { FileBlobStore } from '../blobs/index.js';
import type { ServerGateway } from '../edge/types.js';
import type { ServerBundle } from '../manifest/index.js';
import { Runtime } from './runtime.js';
import { logger } from '../log/index.js';

const gatewayLog = logger('runtime');

/** The platform's limits for every server (flags); a deployment's own settings win over them. */
export interface ServerLimits {
  /** V8 heap limit, MiB; 0: node's default (and no memory watch) */
  memoryMb: number;
  requestTimeoutMs: number;
  idleMs: number;
  /** processes and threads per server (its sandbox's cgroup) */
  pids?: number | undefined;
  /** its private /tmp, MiB */
  tmpMb?: number | undefined;
  /** private-range destinations servers may reach anyway */
  allow?: readonly string[] | undefined;
  /** the shared Node.js cache servers' own Node.js comes from (default `<data-dir>/node`) */
  nodeCacheDir?: string | undefined;
}

/** What one deployment's server runs with: its variables and its own limits (undefined: the platform's). */
export interface DeploymentServerSettings {
  env: Record<string, string>;
  memoryMb: number | undefined;
  requestTimeoutMs: number | undefined;
  /** its processes and threads (capped by the platform's --server-pids) */
  pids?: number | undefined;
  /** its CPU weight among servers (default 1024) */
  cpuShares?: number | undefined;
}

/** The in-process gateway; its ensure also says how long a request may wait for the server's answer. */
export interface LocalGateway extends ServerGateway {
  ensure(deploymentId: string, bundle: ServerBundle): Promise<{ host: string; port: number; requestTimeoutMs: number }>;
}

/** bundles no process used for this long are removed from `<data-dir>/runtime` */
export const BUNDLE_UNUSED_MS = 24 * 60 * 60_000;
/** deployments whose settings are kept in memory; they never change, so this is only a memory bound */
const MAX_CACHED_SETTINGS = 1000;

/**
 * The runtime as the edge sees it: one Runtime per node (in the process that runs the edge, or
 * the cluster's primary, which serves its workers: see serveRuntime in ../edge), materializing bundles under
 * `<data-dir>/runtime` (shared by the processes; materializing is idempotent, and bundles
 * unused for a day are collected).
 *
 * `settingsFor` reads a deployment's variables and limits (from the store: its snapshot, made
 * when it was created and never changed, so the answer is kept). Without it servers get no
 * variables and the platform's limits.
 */
export function createRuntimeGateway(
  blobs: FileBlobStore,
  dataDir: string,
  limits: ServerLimits,
  settingsFor?: (deploymentId: string) => Promise<DeploymentServerSettings>,
  /** a bundle's bytes changed on disk: flag the deployment (e.g. flagIntegrityError in the store) */
  onIntegrityError?: (deploymentId: string, reason: string) => Promise<void>,
  /** every line a server prints, masked (e.g. the access log's writer, which keeps them per deployment) */
  onOutput?: (deploymentId: string, line: string) => void,
): { gateway: LocalGateway; runtime: Runtime } {
  const runtime = new Runtime({
    blobs,
    dir: join(dataDir, 'runtime'),
    dataDir: join(dataDir, 'runtime-data'),
    onIntegrityError: (deploymentId, reason) => void onIntegrityError?.(deploymentId, reason).catch((err: unknown) => gatewayLog.error({ err, deploymentId }, 'could not flag the deployment')),
    ...(limits.memoryMb > 0 ? { memoryLimitMb: limits.memoryMb } : {}),
    requestTimeoutMs: limits.requestTimeoutMs,
    idleMs: limits.idleMs,
    // servers cannot read the platform's database, keys or other deployments, and die with us
    sandbox: { hidden: [dataDir], pids: limits.pids, tmpMb: limits.tmpMb, allow: limits.allow },
    collectBundles: { unusedMs: BUNDLE_UNUSED_MS },
    ...(onOutput === undefined ? {} : { onOutput }),
    nodeCacheDir: limits.nodeCacheDir ?? join(dataDir, 'node'),
  });
  const known = new Map<string, DeploymentServerSettings>();
  const loading = new Map<string, Promise<DeploymentServerSettings>>();
  const load = (deploymentId: string): Promise<DeploymentServerSettings> => {
    if (settingsFor === undefined) return Promise.resolve({ env: {}, memoryMb: undefined, requestTimeoutMs: undefined });
    let pending = loading.get(deploymentId);
    if (pending === undefined) {
      pending = settingsFor(deploymentId).then(
        (settings) => {
          if (known.size >= MAX_CACHED_SETTINGS) known.delete(known.keys().next().value!);
          known.set(deploymentId, settings);
          loading.delete(deploymentId);
          return settings;
        },
        (err: unknown) => {
          loading.delete(deploymentId); // the next request asks again
          throw err;
        },
      );
      loading.set(deploymentId, pending);
    }
    return pending;
  };
  const ensure = (deploymentId: string, bundle: ServerBundle, s: DeploymentServerSettings) =>
    runtime.ensure(deploymentId, bundle, s.env, { memoryLimitMb: s.memoryMb, requestTimeoutMs: s.requestTimeoutMs, pids: s.pids, cpuShares: s.cpuShares });
  const gateway: LocalGateway = {
    ensure: (deploymentId, bundle) => {
      // the common case, a server already known, costs a Map lookup and no store read
      const settings = known.get(deploymentId);
      return settings !== undefined ? ensure(deploymentId, bundle, settings) : load(deploymentId).then((s) => ensure(deploymentId, bundle, s));
    },
    proxy: (req, res, deploymentId, target, opts) => runtime.proxy(req, res, deploymentId, target, opts),
    upgrade: (req, socket, head, deploymentId, target, opts) => runtime.proxyUpgrade(req, socket, head, deploymentId, target, opts),
    pin: (ids) => runtime.pin(ids),
    drain: (deploymentId, graceMs) => runtime.drain(deploymentId, graceMs),
  };
  return { gateway, runtime };
}
