import { sql, type Kysely } from 'kysely';
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
export type Db = Kysely<Database>;

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

  /**
   * Run `fn` in one transaction. On SQLite it starts with BEGIN IMMEDIATE: it takes the write
   * lock up front, so two processes writing the same file queue on busy_timeout instead of one
   * failing when it upgrades a read lock (SQLITE_BUSY_SNAPSHOT).
   */
  async tx<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    if (this.dialect === 'postgres') return this.db.transaction().execute(fn);
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

/** alias_generation: any route (alias or domain) changed; tls_generation: any certificate or TLS-ALPN challenge changed */
export type Counter = 'alias_generation' | 'deployment_seq' | 'tls_generation';

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
