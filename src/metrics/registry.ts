import { Counter, Histogram, Registry } from 'prom-client';

/** Seconds: from a cache hit on the edge to a cold SSR start. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds: from a prebuilt upload to a long framework build. */
const BUILD_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600];

/**
 * One process's metrics. Each Slipway (and each edge worker process) makes its own registry,
 * so two Slipways in one test process do not share counters; the edge primary adds its
 * workers' registries at scrape time (see ./cluster.ts).
 */
export interface Metrics {
  registry: Registry;
  edgeRequests: Counter<'project' | 'status_class' | 'cache'>;
  edgeBytes: Counter<'project'>;
  ssrLatency: Histogram<'project'>;
  accessLogDropped: Counter;
  builds: Counter<'outcome'>;
  buildDuration: Histogram<'outcome'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    edgeRequests: new Counter({
      name: 'slipway_edge_requests_total',
      help: 'Requests the edge answered, by project (empty: no project, e.g. an unknown host), status class (2xx..5xx) and cache outcome (hit: from memory, miss: read from the blob store, stream: streamed from the blob store, revalidated: 304, server: proxied to an SSR server, none: not a file)',
      labelNames: ['project', 'status_class', 'cache'],
      registers,
    }),
    edgeBytes: new Counter({
      name: 'slipway_edge_response_bytes_total',
      help: 'Bytes the edge sent (HTTP/1: head and body on the wire; HTTP/2: the body), by project',
      labelNames: ['project'],
      registers,
    }),
    ssrLatency: new Histogram({
      name: 'slipway_ssr_proxy_duration_seconds',
      help: 'Time of requests proxied to SSR servers, from arrival to the last byte (includes a cold start)',
      labelNames: ['project'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    accessLogDropped: new Counter({
      name: 'slipway_access_log_dropped_total',
      help: 'Access log entries not stored: over the rows kept per batch (see --access-log), or the store could not keep up (the edge never waits for it); metrics still count them',
      registers,
    }),
    builds: new Counter({ name: 'slipway_builds_total', help: 'Builds this worker finished, by outcome (ready, failed, canceled)', labelNames: ['outcome'], registers }),
    buildDuration: new Histogram({ name: 'slipway_build_duration_seconds', help: 'Build time from start to the final status, by outcome', labelNames: ['outcome'], buckets: BUILD_BUCKETS, registers }),
  };
}

/** "2xx" for 204; "1xx".."5xx". */
export function statusClass(status: number): string {
  return `${Math.min(5, Math.max(1, Math.floor(status / 100)))}xx`;
}
