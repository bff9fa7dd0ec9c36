import cluster from 'node:cluster';
import { createEdgeServer } from './server.js';
import type { EdgeOptions } from './types.js';

/** Environment variables through which startEdgeCluster tells a worker where to listen. */
export const PORT_ENV = 'SLIPWAY_EDGE_PORT';
export const HOST_ENV = 'SLIPWAY_EDGE_HOST';

/**
 * The body of an edge worker module: build an edge server from `opts`, listen on the port
 * startEdgeCluster passed in the environment (shared between workers by node:cluster), and
 * shut down cleanly on SIGTERM/SIGINT or when the primary goes away.
 *
 * ```ts
 * // worker module
 * await runEdgeWorker({ lookup: openLookup(), blobs: new LocalBlobStore(dir) });
 * ```
 */
export async function runEdgeWorker(opts: EdgeOptions & { onClose?: () => Promise<void> }): Promise<void> {
  const port = Number(process.env[PORT_ENV] ?? 'NaN');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${PORT_ENV} must be a port number, e.g. ${PORT_ENV}=8080`);
  const host = process.env[HOST_ENV] || undefined;
  const edge = createEdgeServer(opts);

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    edge
      .close()
      .then(() => opts.onClose?.())
      .then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // the primary died or disconnected us: do not linger as an orphan holding the port
  if (cluster.isWorker) process.once('disconnect', stop);

  await new Promise<void>((resolve, reject) => {
    edge.server.once('error', reject);
    edge.server.listen(port, host, () => {
      edge.server.off('error', reject);
      resolve();
    });
  });
}
