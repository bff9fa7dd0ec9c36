import type { Migration } from 'kysely';
import { accountMigrations } from './accounts.js';
import { blobMigrations } from './blobs.js';
import { awsMigrations } from './aws.js';
import { awsDomainMigration } from './aws-domains.js';
import { coreMigrations } from './core.js';
import { domainMigrations } from './domains.js';
import { notificationMigrations } from './notifications.js';
import { observabilityMigration } from './observability.js';
import { previewMigrations } from './previews.js';
import { retentionMigrations } from './retention.js';
import { scaleoutMigrations } from './scaleout.js';

export { autoId } from './auto-id.js';

/**
 * Schema migrations, in order. Written with Kysely's schema builder so the same steps run on
 * SQLite and PostgreSQL. Never change what a shipped migration does; add a new one. (A step
 * PostgreSQL cannot run gets dialect-aware code, as autoId, that does on SQLite what it did.)
 */
export const migrations: Record<string, Migration> = {
  ...coreMigrations,
  ...domainMigrations,
  ...accountMigrations,
  ...previewMigrations,
  ...awsMigrations,
  ...notificationMigrations,
  ...retentionMigrations,
  ...blobMigrations,
  ...scaleoutMigrations,
  '0020_observability': observabilityMigration,
  '0024_aws_domains': awsDomainMigration,
};
