import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';

/**
 * One scrape sees the node's totals although the edge runs in several processes: the primary
 * asks every worker for its registry (as JSON, over node:cluster's IPC channel) and adds them to
 * its own with prom-client's aggregation (counters and histograms summed by label set). A
 * worker that does not answer in time is left out of that scrape.
 */
type Json = MetricObjectWithValues<MetricValue<string>>[];
interface Ask {
  slipwayMetrics: 'ask';
  seq: number;
}
interface Reply {
  slipwayMetrics: 'reply';
  seq: number;
  metrics: Json;
}

let seq = 0;

/** In the primary: this process's metrics plus every edge worker's, as Prometheus text. */
export async function nodeMetricsText(registry: Registry, timeoutMs = 2000): Promise<string> {
  const workers = cluster.isPrimary ? Object.values(cluster.workers ?? {}).filter((w): w is Worker => w?.isConnected() === true) : [];
  if (workers.length === 0) return registry.metrics();
  const own = (await registry.getMetricsAsJSON()) as Json;
  const n = ++seq;
  const replies = await new Promise<Json[]>((resolve) => {
    const got: Json[] = [];
    let waiting = workers.length;
    const finish = () => {
      clearTimeout(timer);
      cluster.off('message', onMessage);
      resolve(got);
    };
    const onMessage = (_worker: Worker, message: unknown) => {
      const m = message as Partial<Reply> | null;
      if (m === null || typeof m !== 'object' || m.slipwayMetrics !== 'reply' || m.seq !== n || !Array.isArray(m.metrics)) return;
      got.push(m.metrics);
      if (--waiting === 0) finish();
    };
    const timer = setTimeout(finish, timeoutMs);
    cluster.on('message', onMessage);
    for (const worker of workers) {
      try {
        worker.send({ slipwayMetrics: 'ask', seq: n } satisfies Ask);
      } catch {
        waiting--;
      }
    }
    if (waiting === 0) finish();
  });
  return AggregatorRegistry.aggregate([own, ...replies]).metrics();
}

/** In an edge worker: answer the primary's requests for this process's metrics. */
export function answerMetricsRequests(registry: Registry): () => void {
  const onMessage = (message: unknown): void => {
    const m = message as Partial<Ask> | null;
    if (m === null || typeof m !== 'object' || m.slipwayMetrics !== 'ask' || typeof m.seq !== 'number') return;
    const n = m.seq;
    void registry.getMetricsAsJSON().then((metrics) => {
      if (process.connected) process.send?.({ slipwayMetrics: 'reply', seq: n, metrics } satisfies Reply);
    });
  };
  process.on('message', onMessage);
  return () => process.off('message', onMessage);
}
