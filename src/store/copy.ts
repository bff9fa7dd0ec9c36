import { sql } from 'kysely';
import { AppError } from '../errors/index.js';
import type { Db, Store } from './index.js';

/** Kysely's own bookkeeping: each side keeps its own (both are migrated to this code's version before the copy) */
const SKIPPED = /^(sqlite_|kysely_)/;
/** rows the target may hold only when nothing was ever done with it */
const USER_DATA = ['projects', 'users', 'deployments'] as const;

export interface TableCopied {
  table: string;
  rows: number;
}

/** The tables of a SQLite store, each after the tables its foreign keys point at. */
async function tablesInDependencyOrder(db: Db): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from sqlite_master where type = 'table' order by name`.execute(db);
  const names = rows.map((r) => r.name).filter((n) => !SKIPPED.test(n));
  const parents = new Map<string, string[]>();
  for (const name of names) {
    const { rows: keys } = await sql<{ table: string }>`select "table" from pragma_foreign_key_list(${name})`.execute(db);
    parents.set(
      name,
      keys.map((k) => k.table).filter((t) => t !== name),
    );
  }
  const ordered: string[] = [];
  const visit = (name: string, path: string[]) => {
    if (ordered.includes(name)) return;
    if (path.includes(name)) throw new Error(`foreign keys form a cycle: ${[...path, name].join(' -> ')}`);
    for (const parent of parents.get(name) ?? []) visit(parent, [...path, name]);
    ordered.push(name);
  };
  for (const name of names) visit(name, []);
  return ordered;
}

/**
 * Copy every row of a SQLite store into an empty PostgreSQL store of the same schema version:
 * tables in foreign-key order, ids kept, each serial column's sequence moved past the copied
 * ids. The source is read in one transaction (a consistent snapshot), the target written in
 * one: a failed copy leaves the target as it was. The target must not have been used: the rows
 * its migrations made (the default team, counters) are replaced by the source's.
 */
export async function copyStore(from: Store, to: Store, onTable: (copied: TableCopied) => void = () => {}): Promise<TableCopied[]> {
  if (from.dialect !== 'sqlite' || to.dialect !== 'postgres') throw new Error('copyStore copies a SQLite store into a PostgreSQL one');
  for (const table of USER_DATA) {
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(to.db);
    if (Number(rows[0]?.n) > 0) {
      throw new AppError('CONFIG', `The target database already holds ${table}: it is in use, and copying into it would mix two installations.`, {
        hint: 'Copy into a new, empty database: createdb slipway_new, then --database-url postgres://.../slipway_new',
      });
    }
  }
  return from.db.transaction().execute(async (source) => {
    const tables = await tablesInDependencyOrder(source);
    return to.db.transaction().execute(async (target) => {
      for (const table of [...tables].reverse()) await sql`delete from ${sql.table(table)}`.execute(target);
      const copied: TableCopied[] = [];
      for (const table of tables) {
        const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(table)} order by rowid`.execute(source);
        const columns = rows[0] === undefined ? 1 : Object.keys(rows[0]).length;
        // PostgreSQL binds at most 65,535 parameters per statement
        const perInsert = Math.max(1, Math.floor(60_000 / columns));
        for (let i = 0; i < rows.length; i += perInsert) {
          await target
            .insertInto(table as never)
            .values(rows.slice(i, i + perInsert) as never)
            .execute();
        }
        if (typeof rows[0]?.id === 'number') {
          // a serial id: the next row the new installation makes must not collide with a copied one
          await sql`select setval(s::regclass, (select max(id) from ${sql.table(table)})::bigint) from (select pg_get_serial_sequence(${table}, 'id') as s) q where s is not null`.execute(target);
        }
        const done = { table, rows: rows.length };
        copied.push(done);
        onTable(done);
      }
      return copied;
    });
  });
}
