import type { Kysely, Migration } from 'kysely';

/** Blobs beyond one machine (issue 12: 0022). Never change what a shipped migration does; add a new one. */
export const blobMigrations: Record<string, Migration> = {
  // Build caches shared through the blob store: one archive blob per (project, kind, key), so a
  // worker on another machine restores what this one saved. Per project: never shared across projects.
  '0022_build_cache_entries': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('build_cache_entries')
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        // 'deps' (key: the dependency key), 'framework' or 'turbo' (key: 'current', the newest)
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        // sha256 of the tar archive in the blob store
        .addColumn('blob_hash', 'text', (c) => c.notNull())
        .addColumn('bytes', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('build_cache_entries_pk', ['project_id', 'kind', 'key'])
        .execute();
    },
  },
};
