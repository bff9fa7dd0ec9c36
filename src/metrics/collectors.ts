import { Gauge, type Registry } from 'prom-client';
import type { RuntimeStatus } from '../runtime/index.js';
import { treeRss } from '../runtime/index.js';
import type { Store } from '../store/index.js';

const DAY_MS = 86_400_000;

/**
 * Gauges read from the store when scraped (one indexed query each): the build queue and
 * certificates. Registered by processes with the api or worker role, so a fleet of edge nodes
 * does not report the same queue many times over.
 */
export function registerStoreGauges(registry: Registry, store: Store): void {
  const registers = [registry];
  new Gauge({
    name: 'slipway_queue_depth',
    help: 'Jobs waiting in the queue (queued, including those waiting for a retry)',
    registers,
    async collect() {
      const row = await store.db
        .selectFrom('jobs')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('status', '=', 'queued')
        .executeTakeFirst();
      this.set(Number(row?.n ?? 0));
    },
  });
  new Gauge({
    name: 'slipway_queue_oldest_job_age_seconds',
    help: 'Age of the oldest queued job (0: none waiting)',
    registers,
    async collect() {
      const row = await store.db
        .selectFrom('jobs')
        .select((eb) => eb.fn.min('created_at').as('oldest'))
        .where('status', '=', 'queued')
        .executeTakeFirst();
      const oldest = row?.oldest === null || row?.oldest === undefined ? undefined : Number(row.oldest);
      this.set(oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest) / 1000));
    },
  });
  new Gauge({
    name: 'slipway_certificate_expiry_days',
    help: 'Days until each stored certificate expires (negative: expired), by the first name it covers and its source',
    labelNames: ['name', 'source'],
    registers,
    async collect() {
      const rows = await store.db.selectFrom('certificates').select(['names', 'source', 'not_after']).execute();
      this.reset();
      const now = Date.now();
      for (const r of rows) {
        const names = safeNames(r.names);
        this.set({ name: names[0] ?? '', source: r.source }, Math.round(((Number(r.not_after) - now) / DAY_MS) * 100) / 100);
      }
    },
  });
}

function safeNames(json: string): string[] {
  try {
    const names = JSON.parse(json) as unknown;
    return Array.isArray(names) ? names.map(String) : [];
  } catch {
    return [];
  }
}

/**
 * SSR servers of this node's runtime, when scraped: how many run for a deployment an alias
 * points at ("running") or wait for a rollback or their idle stop ("standby"), and each one's
 * resident memory (its process tree).
 */
export function registerRuntimeGauges(registry: Registry, status: () => RuntimeStatus[]): void {
  const registers = [registry];
  new Gauge({
    name: 'slipway_servers',
    help: 'SSR server processes by state: running (an alias points at it), standby (kept for a rollback or until idle), starting, draining',
    labelNames: ['state'],
    registers,
    collect() {
      const counts: Record<string, number> = { running: 0, standby: 0, starting: 0, draining: 0 };
      for (const s of status()) counts[stateOf(s)] = (counts[stateOf(s)] ?? 0) + 1;
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'slipway_server_memory_bytes',
    help: 'Resident memory of each SSR server (its process tree), by deployment and state',
    labelNames: ['deployment', 'state'],
    registers,
    async collect() {
      const live = status().filter((s) => s.pid !== undefined);
      const rss = await treeRss(live.map((s) => s.pid!));
      this.reset();
      for (const s of live) this.set({ deployment: s.deploymentId, state: stateOf(s) }, rss.get(s.pid!) ?? 0);
    },
  });
}

function stateOf(s: RuntimeStatus): string {
  if (s.state === 'running' || s.state === 'restarting') return s.pinned ? 'running' : 'standby';
  return s.state;
}
