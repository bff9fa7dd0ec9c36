import type { Metrics } from '../metrics/registry.js';
import type { Store } from '../store/index.js';
import { logger } from '../log/index.js';
import { startLogThread, type LogThread } from './offload.js';
import type { CacheOutcome, FastCache, ObservedRequest } from './recorder.js';
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
  /**
   * access log rows stored per batch; beyond it the batch is sampled evenly and the rest
   * counted as dropped. Metrics always count every request. The default is a minute's share of
   * keepPerProject (167 a second for 10,000): under any load a project's log then reaches back
   * a minute or more, where a larger budget would only replace it faster (and cost the edge more).
   */
  maxRowsPerFlush?: number;
  /** false: write SQLite batches on the event loop, not on the log thread (default true) */
  offload?: boolean;
}

export interface LogWriter {
  /** the RequestObserver's sink: count one request and buffer it if the sample keeps it */
  request(entry: ObservedRequest): void;
  /**
   * count one request a fast path answered, from its values alone; true when the sample keeps
   * it: its entry then comes to keep(). Most requests under load never make an entry.
   */
  counted(deploymentId: string, status: number, bytes: number, cache: FastCache): boolean;
  /** buffer the entry of a request counted() kept */
  keep(entry: ObservedRequest): void;
  /** buffer one line an SSR server printed */
  serverLine(deploymentId: string, text: string): void;
  /** write what is buffered now (tests; close calls it) */
  flush(): Promise<void>;
  close(): Promise<void>;
}

const log = logger('access-log');
const CLASSES = 5;
const OUTCOMES: readonly CacheOutcome[] = ['hit', 'miss', 'stream', 'revalidated', 'server', 'none'];
const OUTCOME_INDEX: Record<CacheOutcome, number> = { hit: 0, miss: 1, stream: 2, revalidated: 3, server: 4, none: 5 };

interface DeploymentCounts {
  /** [status class 1xx..5xx][cache outcome] */
  requests: Float64Array;
  bytes: number;
}
type Trim = { table: 'access_logs' | 'server_logs'; projectId: string };
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
  const maxRows = opts.maxRowsPerFlush ?? Math.max(100, Math.ceil((keep * (opts.flushMs ?? 1000)) / 60_000));
  let requests: ObservedRequest[] = [];
  let lines: ServerLine[] = [];
  const known = new Map<string, { id: string; name: string } | null>();
  let flushing: Promise<void> | undefined;
  let closed = false;
  // SQLite batches are written on a thread of their own (see ./offload.ts), started with the first batch
  let logThread: Promise<LogThread | undefined> | undefined;
  const thread = (): Promise<LogThread | undefined> =>
    (logThread ??=
      opts.offload === false
        ? Promise.resolve(undefined)
        : startLogThread(store).catch((error: unknown) => {
            log.warn({ err: error }, 'could not start the access log thread; batches are written on the event loop');
            return undefined;
          }));

  async function projectsOf(ids: Set<string>): Promise<void> {
    const unknown = [...ids].filter((id) => id !== '' && !known.has(id));
    if (unknown.length === 0) return;
    const found = await projectsOfDeployments(store.db, unknown);
    if (known.size + unknown.length > MAX_KNOWN) known.clear();
    for (const id of unknown) known.set(id, found.get(id) ?? null);
  }

  /** rows added per project since it was last trimmed: trimming every batch would be a query per project per second */
  const sinceTrim = new Map<string, number>();

  // counted as requests come (no entry is kept for it): per deployment, requests by status
  // class and cache outcome, and bytes; named by project when a batch is written
  let counts = new Map<string, DeploymentCounts>();
  let ssr: { deploymentId: string; seconds: number }[] = [];
  /** requests seen since the last batch, for the even sample of what is stored */
  let seen = 0;
  /** keep every stride-th request: 1 until a batch saw more than maxRows */
  let stride = 1;

  // the previous request's deployment and counts: under load most requests in a row are for the
  // same site, and comparing a string the site object holds is cheaper than hashing it again
  let lastId: string | undefined;
  let lastCounts: DeploymentCounts | undefined;

  function count(deploymentId: string, status: number, bytes: number, cache: CacheOutcome): void {
    let c = deploymentId === lastId ? lastCounts : counts.get(deploymentId);
    if (c === undefined) {
      c = { requests: new Float64Array(CLASSES * OUTCOMES.length), bytes: 0 };
      counts.set(deploymentId, c);
    }
    lastId = deploymentId;
    lastCounts = c;
    const cls = Math.min(5, Math.max(1, Math.floor(status / 100))) - 1;
    c.requests[cls * OUTCOMES.length + OUTCOME_INDEX[cache]]! += 1;
    c.bytes += bytes;
  }

  /** whether the sample keeps this request (callers leave out requests that reached no deployment) */
  function sampled(): boolean {
    if (!keepAccess) return false;
    // an even sample of at most maxRows a batch: every stride-th request, the stride set by the
    // last batch's rate; what is not kept never becomes an entry (fast paths) or dies young
    seen++;
    return seen % stride === 0 && requests.length < maxRows;
  }

  function countMetrics(taken: Map<string, DeploymentCounts>, latencies: { deploymentId: string; seconds: number }[]): void {
    if (metrics === undefined) return;
    for (const [deploymentId, c] of taken) {
      const project = known.get(deploymentId)?.name ?? '';
      for (let i = 0; i < c.requests.length; i++) {
        const n = c.requests[i]!;
        if (n > 0) metrics.edgeRequests.inc({ project, status_class: `${Math.floor(i / OUTCOMES.length) + 1}xx`, cache: OUTCOMES[i % OUTCOMES.length]! }, n);
      }
      metrics.edgeBytes.inc({ project }, c.bytes);
    }
    for (const l of latencies) metrics.ssrLatency.observe({ project: known.get(l.deploymentId)?.name ?? '' }, l.seconds);
  }

  async function write(batch: ObservedRequest[], output: ServerLine[], taken: Map<string, DeploymentCounts>, latencies: { deploymentId: string; seconds: number }[]): Promise<void> {
    // the metrics are counted even when the store does not answer (under project "")
    const lookup = projectsOf(new Set([...batch.map((e) => e.deploymentId), ...output.map((l) => l.deploymentId), ...taken.keys(), ...latencies.map((l) => l.deploymentId)]));
    await lookup.catch(() => undefined);
    countMetrics(taken, latencies);
    await lookup;
    const access = new Map<string, AccessEntry[]>();
    if (keepAccess) {
      for (const e of batch) {
        const project = known.get(e.deploymentId);
        if (project === undefined || project === null) continue;
        const list = access.get(project.id);
        if (list === undefined) access.set(project.id, [e]);
        else list.push(e);
      }
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
    // more than a project keeps would be trimmed at once: only its newest go in
    for (const [id, list] of access) if (list.length > keep) access.set(id, list.slice(-keep));
    for (const [id, list] of server) if (list.length > keep) server.set(id, list.slice(-keep));
    const trims = dueTrims(access, server);
    const offloaded = await thread();
    if (offloaded !== undefined) {
      // a project deleted since its deployment was looked up: the cache forgets what it knew
      try {
        if ((await offloaded.write(access, server, trims, keep)).length > 0) known.clear();
      } finally {
        // a thread that died costs this batch only: the next ones are written here
        if (!offloaded.alive) logThread = Promise.resolve(undefined);
      }
      return;
    }
    try {
      await store.tx(async (db) => {
        for (const [projectId, entries] of access) await insertAccessEntries(db, projectId, entries);
        for (const [projectId, entries] of server) await insertServerLines(db, projectId, entries);
      });
    } catch {
      // one project deleted since its deployment was looked up fails the whole transaction: the
      // others go in one by one, and the cache forgets what it knew
      known.clear();
      for (const [projectId, entries] of access) await insertAccessEntries(store.db, projectId, entries).catch(() => undefined);
      for (const [projectId, entries] of server) await insertServerLines(store.db, projectId, entries).catch(() => undefined);
    }
    for (const t of trims) await trimProjectLogs(store.db, t.table, t.projectId, keep);
  }

  /** The projects to trim after this batch: each once it gained a tenth of its bound (or a whole bound at once) since its last trim. */
  function dueTrims(access: Map<string, AccessEntry[]>, server: Map<string, ServerLine[]>): Trim[] {
    const due: Trim[] = [];
    for (const [table, rows] of [['access_logs', access] as const, ['server_logs', server] as const]) {
      for (const [projectId, list] of rows) {
        const key = `${table} ${projectId}`;
        const added = (sinceTrim.get(key) ?? 0) + list.length;
        if (added < Math.max(1, Math.floor(keep / 10)) && list.length < keep) {
          sinceTrim.set(key, added);
          continue;
        }
        sinceTrim.delete(key);
        due.push({ table, projectId });
      }
    }
    return due;
  }

  function flush(): Promise<void> {
    if (flushing !== undefined) return flushing.then(() => (requests.length + lines.length > 0 ? flush() : undefined));
    if (requests.length === 0 && lines.length === 0 && counts.size === 0 && ssr.length === 0) return Promise.resolve();
    const batch = requests;
    const output = lines;
    const taken = counts;
    const latencies = ssr;
    if (seen > batch.length) metrics?.accessLogDropped.inc(seen - batch.length);
    stride = Math.max(1, Math.ceil(seen / maxRows));
    requests = [];
    lines = [];
    counts = new Map();
    lastId = undefined;
    lastCounts = undefined;
    ssr = [];
    seen = 0;
    flushing = write(batch, output, taken, latencies)
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
      count(entry.deploymentId, entry.status, entry.bytes, entry.cache);
      if (entry.cache === 'server' && ssr.length < maxBuffered) ssr.push({ deploymentId: entry.deploymentId, seconds: entry.durationMs / 1000 });
      if (entry.deploymentId !== '' && sampled()) requests.push(entry);
    },
    counted(deploymentId, status, bytes, cache) {
      count(deploymentId, status, bytes, cache);
      return deploymentId !== '' && sampled();
    },
    keep(entry) {
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
      // what is left over the bound goes now, not at the next start
      const trims = [...sinceTrim.keys()].map((key) => {
        const [table, projectId] = key.split(' ') as [Trim['table'], string];
        return { table, projectId };
      });
      sinceTrim.clear();
      // a thread that never started has nothing to close; one still starting is waited for
      const offloaded = logThread === undefined && trims.length === 0 ? undefined : await thread();
      if (offloaded === undefined) {
        for (const t of trims) await trimProjectLogs(store.db, t.table, t.projectId, keep).catch(() => undefined);
        return;
      }
      await offloaded.write(new Map(), new Map(), trims, keep).catch(() => undefined);
      await offloaded.close();
    },
  };
}
