import cluster from 'node:cluster';
import { createEdgeServer, type EdgeServer } from './server.js';
import type { EdgeOptions } from './types.js';

/** Environment variables through which startEdgeCluster tells a worker where to listen. */
export const PORT_ENV = 'SLIPWAY_EDGE_PORT';
export const HOST_ENV = 'SLIPWAY_EDGE_HOST';
/** the HTTPS port, when the worker also serves HTTPS (opts.tls) */
export const HTTPS_PORT_ENV = 'SLIPWAY_EDGE_HTTPS_PORT';

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
export async function runEdgeWorker(opts: EdgeOptions & { onClose?: () => Promise<void> }): Promise<EdgeServer> {
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

  await listen(edge.server, port, host);
  if (edge.https !== undefined) {
    // after the HTTP port: startEdgeCluster takes the first port a worker listens on as the edge's
    const httpsPort = Number(process.env[HTTPS_PORT_ENV] ?? 'NaN');
    if (!Number.isInteger(httpsPort) || httpsPort < 1 || httpsPort > 65535) throw new Error(`${HTTPS_PORT_ENV} must be a port number, e.g. ${HTTPS_PORT_ENV}=443`);
    await edge.https.ready;
    await listen(edge.https.server, httpsPort, host);
  }
  return edge;
}

function listen(server: import('node:net').Server, port: number, host: string | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
