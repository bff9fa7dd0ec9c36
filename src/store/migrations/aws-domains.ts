import type { Kysely, Migration } from 'kysely';

/**
 * Custom domains on the AWS target (issue 13): the ACM certificates Slipway requested for a
 * project's distribution, and which domains are served by AWS rather than the edge. Never change
 * what a shipped migration does; add a new one.
 */
export const awsDomainMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('aws_certificates')
      .addColumn('arn', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      // the deploy_targets row whose distribution it is for ('' the whole project)
      .addColumn('target_env', 'text', (c) => c.notNull())
      // JSON array of the names it covers, sorted
      .addColumn('names', 'text', (c) => c.notNull())
      // ACM's status: PENDING_VALIDATION, ISSUED, FAILED, VALIDATION_TIMED_OUT, ...
      .addColumn('status', 'text', (c) => c.notNull())
      // JSON [{name, type, value}]: the CNAME records that prove the names to ACM
      .addColumn('records', 'text', (c) => c.notNull().defaultTo('[]'))
      // ACM's FailureReason when it failed
      .addColumn('reason', 'text')
      // 'pending' (requested) | 'serving' (the distribution's ViewerCertificate) | 'retired' (to delete)
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('aws_certificates_target').on('aws_certificates').columns(['project_id', 'target_env']).execute();
    await db.schema
      .createTable('aws_domains')
      // one row per domains row that AWS serves (gone with it)
      .addColumn('name', 'text', (c) => c.primaryKey().references('domains.name').onDelete('cascade'))
      .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('target_env', 'text', (c) => c.notNull())
      // set once the name is in the distribution's Aliases
      .addColumn('distribution_id', 'text')
      .addColumn('next_check_at', 'bigint', (c) => c.notNull())
      .addColumn('check_failures', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('aws_domains_next_check').on('aws_domains').column('next_check_at').execute();
  },
};
