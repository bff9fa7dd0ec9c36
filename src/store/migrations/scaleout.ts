import { PostgresAdapter, sql, type Kysely, type Migration } from 'kysely';

/**
 * Issue 12, the edge side of scale-out (0017): which edge processes are live, their warm-ups of
 * production-bound deployments, when a deployment became live everywhere, and on PostgreSQL a
 * NOTIFY on every change the edges re-read. Never change what a shipped migration does; add a new one.
 */
export const scaleoutMigrations: Record<string, Migration> = {
  '0017_scaleout_edges': {
    async up(db: Kysely<any>) {
      // one row per running edge process; a row whose heartbeat is old belongs to a dead process
      await db.schema
        .createTable('edges')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('host', 'text', (c) => c.notNull())
        .addColumn('pid', 'integer', (c) => c.notNull())
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
        // the alias generation whose routes it serves now (0: not loaded yet)
        .addColumn('generation', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      // a deployment about to take production: every live edge starts its server first
      await db.schema
        .createTable('warm_requests')
        .addColumn('deployment_id', 'text', (c) => c.primaryKey().references('deployments.id').onDelete('cascade'))
        .addColumn('manifest_hash', 'text', (c) => c.notNull())
        .addColumn('requested_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('warm_acks')
        .addColumn('deployment_id', 'text', (c) => c.notNull().references('warm_requests.deployment_id').onDelete('cascade'))
        .addColumn('edge_id', 'text', (c) => c.notNull())
        .addColumn('acked_at', 'bigint', (c) => c.notNull())
        // null: warmed; else why the edge could not (it switches on the move anyway)
        .addColumn('error', 'text')
        .addPrimaryKeyConstraint('warm_acks_pk', ['deployment_id', 'edge_id'])
        .execute();
      // when every live edge served it (null: not yet, or never went live)
      await db.schema.alterTable('deployments').addColumn('live_at', 'bigint').execute();
      await sql`insert into meta (key, value) values ('warm_generation', 0)`.execute(db);
      if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
      // every bump of a counter the edges watch notifies them, in the bumping transaction: the
      // notification is delivered on commit, never for a move that rolled back
      await sql`create function slipway_notify_change() returns trigger language plpgsql as $$
        begin
          if new.key in ('alias_generation', 'tls_generation', 'warm_generation') then
            perform pg_notify('slipway_changes', new.key || ':' || new.value);
          end if;
          return null;
        end $$`.execute(db);
      await sql`create trigger meta_notify_change after update on meta for each row execute function slipway_notify_change()`.execute(db);
    },
  },
};
