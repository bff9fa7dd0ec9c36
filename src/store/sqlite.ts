import Sqlite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrate } from './migrate.js';
import type { Database } from './schema.js';

/**
 * Open (and migrate) the embedded SQLite database. WAL lets the edge processes read while the
 * api and worker write; busy_timeout makes concurrent writers from other processes wait
 * instead of failing.
 */
export async function openSqlite(file: string, opts: { migrate: boolean }): Promise<Kysely<Database>> {
  mkdirSync(dirname(file), { recursive: true });
  const database = new Sqlite(file);
  database.pragma('busy_timeout = 10000');
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  if (opts.migrate) await migrate(db);
  return db;
}
