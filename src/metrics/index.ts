/**
 * Metrics (Prometheus text via prom-client) and the wiring of the access log for one process.
 * Other parts import only this file (and src/access-log/index.ts for the log's store side).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogWriter, type LogWriter } from '../access-log/writer.js';
import { createRequestObserver, type RequestObserver } from '../access-log/recorder.js';
import type { Role } from '../config/index.js';
import type { RuntimeStatus } from '../runtime/index.js';
import type { Store } from '../store/index.js';
import { nodeMetricsText } from './cluster.js';
import { registerRuntimeGauges, registerStoreGauges } from './collectors.js';
import type { ObservabilityConfig } from './config.js';
import { createMetrics, type Metrics } from './registry.js';
import { createMetricsServer } from './serve.js';

export { answerMetricsRequests, nodeMetricsText } from './cluster.js';
export { observeBuild } from './builds.js';
export type { ObservabilityConfig } from './config.js';
export { createMetrics, statusClass, type Metrics } from './registry.js';
export { METRICS_CONTENT_TYPE, metricsRefusal, metricsTokenMatches } from './serve.js';

export interface Observability {
  metrics: Metrics;
  /** for the edge served in this process; undefined without the edge role */
  observer: RequestObserver | undefined;
  /** batches access log entries and SSR output into the store */
  writer: LogWriter;
  /** this process's metrics plus its edge workers', as Prometheus text */
  text(): Promise<string>;
  /** once the runtime exists: its servers become gauges */
  watchRuntime(status: () => RuntimeStatus[]): void;
  /** the bound --metrics-port, if one was asked for */
  metricsPort: number | undefined;
  close(): Promise<void>;
}

/**
 * Metrics and logs for a process running `roles`. The queue and certificate gauges come from
 * processes with the api or worker role; the edge's request metrics from the edge processes.
 */
export async function startObservability(opts: { config: ObservabilityConfig; host: string; store: Store; roles: readonly Role[]; edgeInProcess: boolean }): Promise<Observability> {
  const { config, store, roles } = opts;
  const metrics = createMetrics();
  if (roles.includes('api') || roles.includes('worker')) registerStoreGauges(metrics.registry, store);
  const writer = createLogWriter({ store, metrics, keepAccessLog: config.accessLog, keepPerProject: config.logKeep });
  const observer = roles.includes('edge') && opts.edgeInProcess ? createRequestObserver(writer) : undefined;
  const text = () => nodeMetricsText(metrics.registry);
  let server: Server | undefined;
  let metricsPort: number | undefined;
  if (config.metricsPort !== undefined) {
    const s = createMetricsServer(config.metricsToken, text);
    await new Promise<void>((resolve, reject) => s.once('error', reject).listen(config.metricsPort, opts.host, () => resolve()));
    server = s;
    metricsPort = (s.address() as AddressInfo).port;
  }
  return {
    metrics,
    observer,
    writer,
    text,
    watchRuntime: (status) => registerRuntimeGauges(metrics.registry, status),
    metricsPort,
    async close() {
      if (server !== undefined) await new Promise((resolve) => server.close(resolve));
      await writer.close();
    },
  };
}
