import type { Kysely, Migration } from 'kysely';
import { autoId } from './auto-id.js';

/**
 * Issue 14: the edge's access log and SSR servers' output, kept per project (bounded: the
 * writers trim the oldest), and where each project's logs are drained to.
 */
export const observabilityMigration: Migration = {
  async up(db: Kysely<any>) {
    const [idType, idColumn] = autoId(db);
    await db.schema
      .createTable('access_logs')
      .addColumn('id', idType, idColumn)
      .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('deployment_id', 'text', (c) => c.notNull())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('method', 'text', (c) => c.notNull())
      .addColumn('host', 'text', (c) => c.notNull())
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('status', 'integer', (c) => c.notNull())
      .addColumn('bytes', 'bigint', (c) => c.notNull())
      .addColumn('duration_ms', 'real', (c) => c.notNull())
      .addColumn('client_ip', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('access_logs_project').on('access_logs').columns(['project_id', 'id']).execute();
    await db.schema
      .createTable('server_logs')
      .addColumn('id', idType, idColumn)
      .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('deployment_id', 'text', (c) => c.notNull())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('text', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('server_logs_project').on('server_logs').columns(['project_id', 'id']).execute();
    await db.schema.createIndex('server_logs_deployment').on('server_logs').columns(['deployment_id', 'id']).execute();
    await db.schema
      .createTable('log_drains')
      .addColumn('project_id', 'text', (c) => c.primaryKey().references('projects.id').onDelete('cascade'))
      // SecretBox-encrypted: a drain URL often carries its receiver's token
      .addColumn('url_enc', 'text', (c) => c.notNull())
      // the last access_logs / server_logs id delivered
      .addColumn('access_cursor', 'bigint', (c) => c.notNull())
      .addColumn('server_cursor', 'bigint', (c) => c.notNull())
      // one drainer at a time (several api processes may run): who holds it until when
      .addColumn('lease_until', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_attempt_at', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
  },
};
