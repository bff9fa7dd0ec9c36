import { PostgresAdapter, type ColumnDataType, type ColumnDefinitionBuilder, type Kysely } from 'kysely';

/**
 * An auto-numbered integer primary key. SQLite: `integer primary key autoincrement`, as these
 * migrations always made it. PostgreSQL has no AUTOINCREMENT keyword: a `serial` column (an
 * int4 with its own sequence) numbers rows the same way.
 */
export function autoId(db: Kysely<any>): [ColumnDataType, (c: ColumnDefinitionBuilder) => ColumnDefinitionBuilder] {
  if (db.getExecutor().adapter instanceof PostgresAdapter) return ['serial', (c) => c.primaryKey()];
  return ['integer', (c) => c.primaryKey().autoIncrement()];
}
