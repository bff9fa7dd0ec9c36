import type { Kysely, Migration } from 'kysely';

/** Issue 14: retention settings per project and the garbage collector's lease and fence (0021). Never change what a shipped migration does; add a new one. */
export const retentionMigrations: Record<string, Migration> = {
  '0021_retention': {
    async up(db: Kysely<any>) {
      // a project without a row keeps the documented defaults (src/retention/settings.ts)
      await db.schema
        .createTable('project_retention')
        .addColumn('project_id', 'text', (c) => c.primaryKey().references('projects.id').onDelete('cascade'))
        // the newest N ready production deployments stay (null: the default)
        .addColumn('keep_production', 'integer')
        // anything newer than this many days stays; older previews go (null: the default)
        .addColumn('keep_days', 'integer')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      // one row ('gc'): who collects now (a lease, so one worker at a time), and the fence that
      // tells a build finishing its packaging whether a sweep may have taken a blob it reuses
      await db.schema
        .createTable('gc_state')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('lease_owner', 'text')
        .addColumn('lease_until', 'bigint')
        // bumped when a sweep starts; a build compares the value it read before packaging
        .addColumn('generation', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('sweeping', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_started_at', 'bigint')
        .addColumn('last_finished_at', 'bigint')
        // JSON: the last run's report (what went, bytes freed)
        .addColumn('last_report', 'text')
        .execute();
      await db.insertInto('gc_state').values({ id: 'gc', generation: 0, sweeping: 0 }).execute();
    },
  },
};
