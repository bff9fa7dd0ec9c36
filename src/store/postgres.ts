import {
  Kysely,
  OperationNodeTransformer,
  PostgresDialect,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type PrimitiveValueListNode,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
  type ValueNode,
} from 'kysely';
import pg from 'pg';
import { AppError } from '../errors/index.js';
import type { Database } from './schema.js';
import { migrate } from './migrate.js';

/** int8 (bigint): our timestamps in ms, counters and ids all fit in 2^53, so they come back as numbers */
const INT8_OID = 20;
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID && format !== 'binary') return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
};

/**
 * PostgreSQL's text cannot hold U+0000, SQLite's can: a build that prints a NUL byte would fail
 * to store its log line (and the build with it). Every string value bound to a query has its
 * NULs replaced by U+FFFD, the character that stands for what could not be kept.
 */
class NoNulTransformer extends OperationNodeTransformer {
  protected override transformValue(node: ValueNode): ValueNode {
    return typeof node.value === 'string' && node.value.includes('\0') ? { ...node, value: node.value.replaceAll('\0', '\uFFFD') } : node;
  }
  protected override transformPrimitiveValueList(node: PrimitiveValueListNode): PrimitiveValueListNode {
    if (!node.values.some((v) => typeof v === 'string' && v.includes('\0'))) return node;
    return { ...node, values: node.values.map((v) => (typeof v === 'string' ? v.replaceAll('\0', '\uFFFD') : v)) };
  }
}
const noNul: KyselyPlugin = {
  transformQuery: (args: PluginTransformQueryArgs): RootOperationNode => new NoNulTransformer().transformNode(args.node),
  transformResult: async (args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> => args.result,
};

/**
 * One number for every Slipway process of an installation: the advisory lock that serialises
 * their migrations. Kysely's Migrator locks too, but only after it has created its own
 * bookkeeping tables; two processes starting at once can both try to create them and one fails
 * on a duplicate catalog row. Holding this session lock on a connection of its own around the
 * whole Migrator run makes the second process wait, then find everything done.
 */
const MIGRATION_LOCK = 7_372_115_100_012;

export interface PostgresOptions {
  migrate: boolean;
  /** connections this process may hold (see poolSizeFor in ./index.ts); at least 2, as migrating holds one for its lock */
  poolSize: number;
}

/** Open (and migrate) a PostgreSQL store at `url` (postgres://user:pass@host:port/db). */
export async function openPostgres(url: string, opts: PostgresOptions): Promise<Kysely<Database>> {
  const pool = new pg.Pool({ connectionString: url, max: Math.max(2, opts.poolSize), types, idleTimeoutMillis: 30_000 });
  // an idle client that loses its connection (database restart) emits 'error' on the pool;
  // unhandled, that would crash the process. The next query opens a fresh connection.
  pool.on('error', () => undefined);
  // the pool listens only while a client is idle: one checked out when the server goes away emits
  // 'error' with no listener, which would crash the process. Its query fails with that error
  // anyway, and the pool drops the broken client when it is released.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), plugins: [noNul] });
  try {
    // one round trip first: a wrong URL is a setting to fix, said as such (not a stack trace)
    await pool.query('select 1').catch((err: unknown) => {
      throw new AppError('CONFIG', `Cannot connect to PostgreSQL at ${redacted(url)}: ${err instanceof Error ? err.message : String(err)}`, {
        hint: 'Check --database-url (SLIPWAY_DATABASE_URL): host, port, user, password and database; the database must exist and accept connections from this machine.',
        cause: err,
      });
    });
    if (opts.migrate) await migrateLocked(pool, db);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return db;
}

/** The URL without its password, for messages. */
function redacted(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'the configured URL';
  }
}

async function migrateLocked(pool: pg.Pool, db: Kysely<Database>): Promise<void> {
  const holder = await pool.connect();
  try {
    await holder.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await migrate(db);
    } finally {
      await holder.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    holder.release();
  }
}
