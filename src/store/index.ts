import { PostgresAdapter, sql, type Kysely, type RawBuilder } from 'kysely';
import { join } from 'node:path';
import { openPostgres } from './postgres.js';
import { openSqlite } from './sqlite.js';
import type { Database } from './schema.js';

export type {
  AuditEvent,
  Certificate,
  Database,
  Deployment,
  Domain,
  DomainStatus,
  DeploymentStatus,
  Environment,
  EnvTarget,
  EnvVar,
  Invitation,
  Job,
  JobStatus,
  Membership,
  NewDeployment,
  Project,
  Role,
  Session,
  Team,
  Token,
  User,
} from './schema.js';
export type { DeliveryState, EndpointKind } from './schema-notify.js';
export type Db = Kysely<Database>;

/** The advisory lock key of Store.tx on PostgreSQL (any fixed number; the migrations use another) */
const WRITE_LOCK = 7_372_115_100_001;
/** The first key of Store.tx's scoped locks (the two-int form, a space apart from the one-bigint locks) */
const SCOPED_LOCKS = 737_211_510;

/**
 * The state store: one Kysely instance over SQLite (embedded) or PostgreSQL (scale-out).
 * Query modules (./projects, ./deployments, ...) take a `Db` so they run inside or outside a
 * transaction alike.
 */
export class Store {
  constructor(
    readonly db: Db,
    readonly dialect: 'sqlite' | 'postgres',
  ) {}

  static async openSqlite(file: string, opts: { migrate?: boolean } = {}): Promise<Store> {
    return new Store(await openSqlite(file, { migrate: opts.migrate ?? true }), 'sqlite');
  }

  /** `url`: postgres://user:pass@host:port/db; `poolSize`: see poolSizeFor */
  static async openPostgres(url: string, opts: { migrate?: boolean; poolSize?: number } = {}): Promise<Store> {
    return new Store(await openPostgres(url, { migrate: opts.migrate ?? true, poolSize: opts.poolSize ?? 10 }), 'postgres');
  }

  /**
   * Run `fn` in one transaction. On SQLite it starts with BEGIN IMMEDIATE: it takes the write
   * lock up front, so two processes writing the same file queue on busy_timeout instead of one
   * failing when it upgrades a read lock (SQLITE_BUSY_SNAPSHOT).
   *
   * On PostgreSQL it first takes a transaction-scoped advisory lock shared by every process of
   * the installation. The query code reads, decides, then writes (an alias only moves forward,
   * a name is free, a counter is next); under READ COMMITTED two such transactions on two
   * machines could both decide on the same old state, so they must not overlap. Without a
   * `scope` the lock is the whole installation's: these transactions run one at a time, as on
   * SQLite. With a scope (a project's id: the transaction reads and decides only on that
   * project's rows) it holds the installation lock shared and the scope's lock exclusively:
   * transactions of different projects run at once, those of one project one at a time, and an
   * unscoped one still excludes them all. Reads outside a transaction, and the queue's claims and
   * heartbeats (single fenced statements), take neither.
   */
  async tx<T>(fn: (db: Db) => Promise<T>, opts: { scope?: string } = {}): Promise<T> {
    if (this.dialect === 'postgres') {
      return this.db.transaction().execute(async (db) => {
        if (opts.scope === undefined) await sql`select pg_advisory_xact_lock(${WRITE_LOCK})`.execute(db);
        else {
          await sql`select pg_advisory_xact_lock_shared(${WRITE_LOCK})`.execute(db);
          // two-key form: the first key names the scoped lock space, hashtext the scope
          await sql`select pg_advisory_xact_lock(${SCOPED_LOCKS}, hashtext(${opts.scope}))`.execute(db);
        }
        return fn(db);
      });
    }
    return this.db.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn);
      try {
        const result = await fn(conn);
        await sql`commit`.execute(conn);
        return result;
      } catch (err) {
        await sql`rollback`.execute(conn);
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

/**
 * Connections one process keeps to PostgreSQL, by the roles it runs (summed). The api serves
 * many short requests at once: 10. A worker holds a few at a time (claim, heartbeats, log
 * lines, the final transaction): 4. An edge process only polls and reads routes: 2. Many
 * processes share one server whose default max_connections is 100, so these stay small.
 */
export function poolSizeFor(roles: readonly ('api' | 'worker' | 'edge')[]): number {
  const per = { api: 10, worker: 4, edge: 2 } as const;
  return Math.max(
    2,
    roles.reduce((sum, role) => sum + per[role], 0),
  );
}

/**
 * The store the configuration names: PostgreSQL when a database URL is set, else the SQLite
 * file in the data dir. Processes that only read (edge workers) pass migrate: false.
 */
export async function openStore(config: { databaseUrl: string | undefined; dataDir: string }, opts: { migrate?: boolean; roles: readonly ('api' | 'worker' | 'edge')[] }): Promise<Store> {
  if (config.databaseUrl !== undefined) return Store.openPostgres(config.databaseUrl, { migrate: opts.migrate ?? true, poolSize: poolSizeFor(opts.roles) });
  return Store.openSqlite(join(config.dataDir, 'slipway.db'), { migrate: opts.migrate ?? true });
}

/** alias_generation: any route (alias or domain) changed; tls_generation: any certificate or TLS-ALPN challenge changed */
export type Counter = 'alias_generation' | 'deployment_seq' | 'tls_generation' | 'warm_generation';

/** Increment a counter in `meta` and return the new value (call inside a transaction). */
export async function bumpCounter(db: Db, key: Counter): Promise<number> {
  const row = await db
    .updateTable('meta')
    .set((eb) => ({ value: eb('value', '+', 1) }))
    .where('key', '=', key)
    .returning('value')
    .executeTakeFirstOrThrow();
  return Number(row.value);
}

export async function readCounter(db: Db, key: Counter): Promise<number> {
  const row = await db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst();
  return Number(row?.value ?? 0);
}

/**
 * "Now" (+ `plusMs`) in ms as SQL, by the clock leases are measured with (see Queue): the
 * database server's on PostgreSQL (clock_timestamp(): the real time, not the transaction's
 * start), this process's on SQLite.
 */
export function clockSql(store: Store, plusMs = 0): RawBuilder<number> {
  if (store.dialect === 'postgres') return sql<number>`(floor(extract(epoch from clock_timestamp()) * 1000)::bigint + ${plusMs})`;
  return sql<number>`${Date.now() + plusMs}`;
}

/** The current time in ms by that clock. */
export async function databaseNow(store: Store): Promise<number> {
  if (store.dialect === 'sqlite') return Date.now();
  const { rows } = await sql<{ now: number }>`select ${clockSql(store)} as now`.execute(store.db);
  return Number(rows[0]!.now);
}

export { CHANGE_CHANNEL, listenForChanges, type Change, type ChangeFeed } from './notify.js';

/**
 * databaseNow for code that holds only a `Db` (inside a transaction): the PostgreSQL server's
 * clock on PostgreSQL, this machine's on SQLite. Leases that several machines compare must use it.
 */
export async function dbNow(db: Db): Promise<number> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return Date.now();
  const { rows } = await sql<{ now: number }>`select floor(extract(epoch from clock_timestamp()) * 1000)::bigint as now`.execute(db);
  return Number(rows[0]!.now);
}
