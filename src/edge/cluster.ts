import cluster, { type Worker } from 'node:cluster';
import { HOST_ENV, PORT_ENV } from './worker.js';
import { logger } from '../log/index.js';

const clusterLog = logger('edge-cluster');

export interface EdgeClusterOptions {
  /** processes to run, e.g. os.availableParallelism() */
  workers: number;
  /** shared port; 0 picks a free one (all workers share it), see `port` on the result */
  port: number;
  host?: string;
  /** module each worker runs; it should call runEdgeWorker() (see ./worker.ts) */
  workerModule: string;
  /**
   * sockets each worker listens on (default 1; 2 with HTTPS): it has started once all of them
   * listen, and `port` is the first one's. node:cluster shares each (address, port) between the
   * workers, so every port but the first must be fixed (not 0).
   */
  listensPerWorker?: number;
  /** extra environment for the workers */
  env?: Record<string, string>;
  /**
   * How connections reach workers. 'none' (default): every worker accepts on the shared socket
   * and the kernel picks; 'rr': the primary accepts and hands connections round-robin.
   * node:cluster fixes the policy at the first fork of a process, so only the first cluster
   * started in a process decides it.
   */
  scheduling?: 'none' | 'rr';
  /** ms to wait for a worker to exit on close before SIGKILL (default 5000) */
  stopTimeoutMs?: number;
  /** where restarts are reported (default: Slipway's log) */
  log?: (message: string) => void;
}

export interface EdgeCluster {
  /** the port the workers listen on (useful with port 0) */
  port: number;
  /** pids of the current workers */
  pids(): number[];
  close(): Promise<void>;
}

/** A worker that crashes within this long after starting counts toward the restart backoff. */
const QUICK_CRASH_MS = 5_000;

/**
 * In the primary: fork `workers` processes running `workerModule`, which listen on one shared
 * port. Resolves when all listen; rejects (and stops the rest) if one exits before listening.
 * A worker that dies later is replaced, with a growing delay while replacements keep dying fast.
 *
 * ```ts
 * const edge = await startEdgeCluster({ workers: os.availableParallelism(), port: 8080, workerModule: new URL('./worker-main.js', import.meta.url).pathname });
 * await edge.close();
 * ```
 */
export async function startEdgeCluster(opts: EdgeClusterOptions): Promise<EdgeCluster> {
  if (!cluster.isPrimary) throw new Error('startEdgeCluster must run in the primary process');
  if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new Error(`workers must be a positive integer, e.g. workers: 2 (got ${opts.workers})`);
  const log = opts.log ?? ((message: string) => clusterLog.warn(message));
  const stopTimeoutMs = opts.stopTimeoutMs ?? 5000;

  cluster.schedulingPolicy = opts.scheduling === 'rr' ? cluster.SCHED_RR : cluster.SCHED_NONE;
  cluster.setupPrimary({ exec: opts.workerModule, args: [] });

  const env: Record<string, string> = { ...opts.env, [PORT_ENV]: String(opts.port), [HOST_ENV]: opts.host ?? '' };
  const workers = new Set<Worker>();
  let started = false;
  let closing = false;
  let port = opts.port;
  let quickCrashes = 0;
  const restartTimers = new Set<NodeJS.Timeout>();

  const fork = (): Worker => {
    // every worker asks for the port as given: node:cluster shares one listening handle per
    // (address, port) key, so with port 0 they all get the same free port
    const worker = cluster.fork(env);
    const startedAt = Date.now();
    workers.add(worker);
    worker.once('exit', (code, signal) => {
      workers.delete(worker);
      if (closing || !started) return; // during start-up, watchListening reports the failure
      quickCrashes = Date.now() - startedAt < QUICK_CRASH_MS ? quickCrashes + 1 : 0;
      const delay = Math.min(30_000, quickCrashes === 0 ? 0 : 100 * 2 ** quickCrashes);
      log(`worker ${worker.process.pid ?? '?'} exited (${signal ?? `code ${code}`}); starting a replacement${delay > 0 ? ` in ${delay} ms` : ''}`);
      const timer = setTimeout(() => {
        restartTimers.delete(timer);
        if (!closing) fork();
      }, delay);
      restartTimers.add(timer);
    });
    return worker;
  };

  const watchListening = (worker: Worker): Promise<void> =>
    new Promise((resolve, reject) => {
      const onExit = (code: number, signal: string | null): void => {
        reject(new Error(`edge worker exited before listening (${signal ?? `code ${code}`}); run the worker module alone to see its error`));
      };
      worker.once('exit', onExit);
      let listening = 0;
      const onListening = (address: { port: number }): void => {
        if (listening++ === 0 && port === 0) port = address.port;
        if (listening < (opts.listensPerWorker ?? 1)) return;
        worker.off('exit', onExit);
        worker.off('listening', onListening);
        resolve();
      };
      worker.on('listening', onListening);
    });

  const close = async (): Promise<void> => {
    closing = true;
    for (const timer of restartTimers) clearTimeout(timer);
    restartTimers.clear();
    await Promise.all([...workers].map((worker) => stopWorker(worker, stopTimeoutMs)));
  };

  try {
    const starting: Promise<void>[] = [];
    for (let i = 0; i < opts.workers; i++) starting.push(watchListening(fork()));
    await Promise.all(starting);
    started = true;
  } catch (error) {
    await close();
    throw error;
  }

  return {
    get port() {
      return port;
    },
    pids: () => [...workers].flatMap((w) => (w.process.pid === undefined ? [] : [w.process.pid])),
    close,
  };
}

/** Ask a worker to finish (disconnect + SIGTERM), SIGKILL it if it has not exited in time. */
function stopWorker(worker: Worker, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (worker.process.exitCode !== null || worker.process.signalCode !== null) {
      resolve();
      return;
    }
    const timer = setTimeout(() => worker.process.kill('SIGKILL'), timeoutMs);
    worker.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    worker.kill('SIGTERM');
  });
}
