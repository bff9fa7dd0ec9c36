import type { Metrics } from '../metrics/registry.js';
import { statusClass } from '../metrics/registry.js';
import type { Store } from '../store/index.js';
import { logger } from '../log/index.js';
import type { ObservedRequest } from './recorder.js';
import { DEFAULT_KEEP_PER_PROJECT, insertAccessEntries, insertServerLines, projectsOfDeployments, trimProjectLogs, type AccessEntry, type ServerLine } from './store.js';

export interface LogWriterOptions {
  store: Store;
  /** counted here, off the request path: requests, bytes, SSR latency */
  metrics?: Metrics | undefined;
  /** false: count metrics only, keep no access log rows (--access-log off) */
  keepAccessLog?: boolean;
  /** rows kept per project (each of access and server logs) */
  keepPerProject?: number;
  /** ms between batches (default 1000) */
  flushMs?: number;
  /** entries waiting beyond this are dropped (counted in slipway_access_log_dropped_total) */
  maxBuffered?: number;
}

export interface LogWriter {
  /** the RequestObserver's sink: buffer one request */
  request(entry: ObservedRequest): void;
  /** buffer one line an SSR server printed */
  serverLine(deploymentId: string, text: string): void;
  /** write what is buffered now (tests; close calls it) */
  flush(): Promise<void>;
  close(): Promise<void>;
}

const log = logger('access-log');
/** deployment -> project: deployments never change project, so an entry stays right; bounded */
const MAX_KNOWN = 10_000;

/**
 * Batches the edge's access log and SSR servers' output into the store: one transaction per
 * `flushMs` for everything that arrived, then each touched project is trimmed to its bound.
 * A slow or failing store never slows a request: the buffer is bounded and drops the excess.
 */
export function createLogWriter(opts: LogWriterOptions): LogWriter {
  const { store, metrics } = opts;
  const keep = opts.keepPerProject ?? DEFAULT_KEEP_PER_PROJECT;
  const keepAccess = opts.keepAccessLog ?? true;
  const maxBuffered = opts.maxBuffered ?? 50_000;
  let requests: ObservedRequest[] = [];
  let lines: ServerLine[] = [];
  const known = new Map<string, { id: string; name: string } | null>();
  let flushing: Promise<void> | undefined;
  let closed = false;

  async function projectsOf(ids: Set<string>): Promise<void> {
    const unknown = [...ids].filter((id) => id !== '' && !known.has(id));
    if (unknown.length === 0) return;
    const found = await projectsOfDeployments(store.db, unknown);
    if (known.size + unknown.length > MAX_KNOWN) known.clear();
    for (const id of unknown) known.set(id, found.get(id) ?? null);
  }

  async function write(batch: ObservedRequest[], output: ServerLine[]): Promise<void> {
    await projectsOf(new Set([...batch.map((e) => e.deploymentId), ...output.map((l) => l.deploymentId)]));
    const access = new Map<string, AccessEntry[]>();
    for (const e of batch) {
      const project = known.get(e.deploymentId) ?? undefined;
      if (metrics !== undefined) {
        const name = project?.name ?? '';
        metrics.edgeRequests.inc({ project: name, status_class: statusClass(e.status), cache: e.cache });
        metrics.edgeBytes.inc({ project: name }, e.bytes);
        if (e.cache === 'server') metrics.ssrLatency.observe({ project: name }, e.durationMs / 1000);
      }
      if (project === undefined || !keepAccess) continue;
      const list = access.get(project.id);
      const { cache: _cache, ...entry } = e;
      if (list === undefined) access.set(project.id, [entry]);
      else list.push(entry);
    }
    const server = new Map<string, ServerLine[]>();
    for (const l of output) {
      const project = known.get(l.deploymentId);
      if (project === undefined || project === null) continue;
      const list = server.get(project.id);
      if (list === undefined) server.set(project.id, [l]);
      else list.push(l);
    }
    if (access.size === 0 && server.size === 0) return;
    await store.tx(async (db) => {
      for (const [projectId, entries] of access) await insertAccessEntries(db, projectId, entries);
      for (const [projectId, entries] of server) await insertServerLines(db, projectId, entries);
    });
    for (const projectId of access.keys()) await trimProjectLogs(store.db, 'access_logs', projectId, keep);
    for (const projectId of server.keys()) await trimProjectLogs(store.db, 'server_logs', projectId, keep);
  }

  function flush(): Promise<void> {
    if (flushing !== undefined) return flushing.then(() => (requests.length + lines.length > 0 ? flush() : undefined));
    if (requests.length === 0 && lines.length === 0) return Promise.resolve();
    const batch = requests;
    const output = lines;
    requests = [];
    lines = [];
    flushing = write(batch, output)
      .catch((error: unknown) => log.error({ err: error, entries: batch.length + output.length }, 'could not write a batch of access log entries; they are lost'))
      .finally(() => {
        flushing = undefined;
      });
    return flushing;
  }

  const timer = setInterval(() => void flush(), opts.flushMs ?? 1000);
  timer.unref();

  return {
    request(entry) {
      if (requests.length >= maxBuffered) {
        metrics?.accessLogDropped.inc();
        return;
      }
      requests.push(entry);
    },
    serverLine(deploymentId, text) {
      if (closed || lines.length >= maxBuffered) return;
      lines.push({ at: Date.now(), deploymentId, text });
    },
    flush,
    async close() {
      closed = true;
      clearInterval(timer);
      await flush();
    },
  };
}
