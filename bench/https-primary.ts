/**
 * Runs the HTTPS edge cluster for bench/https.ts in its own process. argv: <http port>
 * <https port> <workers>; env as for ./https-worker.ts. Prints "listening <http port>" once every
 * worker listens on both ports; stops the cluster on SIGTERM or when the parent goes away.
 */
import { fileURLToPath } from 'node:url';
import { startEdgeCluster } from '../src/edge/index.js';
import { HTTPS_PORT_ENV } from '../src/edge/worker.js';

const [port = '0', httpsPort = '0', workers = '1'] = process.argv.slice(2);
const edge = await startEdgeCluster({
  workers: Number(workers),
  port: Number(port),
  host: '127.0.0.1',
  listensPerWorker: 2,
  workerModule: fileURLToPath(new URL('./https-worker.js', import.meta.url)),
  env: { [HTTPS_PORT_ENV]: httpsPort },
});
process.stdout.write(`listening ${edge.port}\n`);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  edge.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.once('disconnect', stop);
