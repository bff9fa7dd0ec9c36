/**
 * Runs the edge cluster for the static benchmark in its own process, because node:cluster
 * fixes its scheduling policy per process at the first fork and the benchmark compares both.
 * argv: <port> <workers> <none|rr>; env as for ./static-worker.ts. Prints "listening <port>"
 * when all workers listen; stops the cluster on SIGTERM or when the parent goes away.
 */
import { fileURLToPath } from 'node:url';
import { startEdgeCluster } from '../src/edge/index.js';

const [port = '0', workers = '1', scheduling = 'none'] = process.argv.slice(2);
const edge = await startEdgeCluster({
  workers: Number(workers),
  port: Number(port),
  host: '127.0.0.1',
  workerModule: fileURLToPath(new URL('./static-worker.js', import.meta.url)),
  scheduling: scheduling === 'rr' ? 'rr' : 'none',
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
