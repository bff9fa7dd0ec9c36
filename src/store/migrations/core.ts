import { sql, type Kysely, type Migration } from 'kysely';
import { autoId } from './auto-id.js';

/** The first schema and the settings added while the push-to-live path grew (0001-0007). Never change what a shipped migration does; add a new one. */
export const coreMigrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('projects')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('repo_url', 'text', (c) => c.notNull())
        .addColumn('production_branch', 'text', (c) => c.notNull())
        .addColumn('root_directory', 'text')
        .addColumn('install_command', 'text')
        .addColumn('build_command', 'text')
        .addColumn('output_directory', 'text')
        .addColumn('build_timeout_seconds', 'integer')
        .addColumn('webhook_secret', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('deployments')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('trigger', 'text', (c) => c.notNull())
        .addColumn('branch', 'text')
        .addColumn('commit_sha', 'text', (c) => c.notNull())
        .addColumn('commit_message', 'text')
        .addColumn('commit_author', 'text')
        .addColumn('manifest_hash', 'text')
        .addColumn('files_total', 'integer')
        .addColumn('files_uploaded', 'integer')
        .addColumn('bytes_uploaded', 'bigint')
        .addColumn('timings', 'text')
        .addColumn('error_code', 'text')
        .addColumn('error_phase', 'text')
        .addColumn('error_message', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('started_at', 'bigint')
        .addColumn('finished_at', 'bigint')
        .execute();
      await db.schema.createIndex('deployments_project_seq').on('deployments').columns(['project_id', 'seq']).execute();

      await db.schema
        .createTable('aliases')
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('deployment_id', 'text', (c) => c.notNull().references('deployments.id'))
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('aliases_pk', ['project_id', 'name'])
        .execute();

      await db.schema
        .createTable('log_lines')
        .addColumn('deployment_id', 'text', (c) => c.notNull().references('deployments.id').onDelete('cascade'))
        .addColumn('n', 'integer', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('text', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('log_lines_pk', ['deployment_id', 'n'])
        .execute();

      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('delivery_id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('deployment_id', 'text')
        .addColumn('response', 'text', (c) => c.notNull())
        .addColumn('received_at', 'bigint', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('jobs')
        .addColumn('id', ...autoId(db))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('deployment_id', 'text', (c) => c.notNull().references('deployments.id').onDelete('cascade'))
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('max_attempts', 'integer', (c) => c.notNull())
        .addColumn('run_at', 'bigint', (c) => c.notNull())
        .addColumn('locked_by', 'text')
        .addColumn('lease_until', 'bigint')
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('jobs_claim').on('jobs').columns(['status', 'run_at']).execute();

      await db.schema
        .createTable('meta')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'bigint', (c) => c.notNull())
        .execute();
      await sql`insert into meta (key, value) values ('alias_generation', 0), ('deployment_seq', 0)`.execute(db);
    },
  },
  '0002_build_info': {
    async up(db: Kysely<any>) {
      // JSON: what the build detected and decided (framework and why, package manager, cache hits)
      await db.schema.alterTable('deployments').addColumn('build_info', 'text').execute();
    },
  },
  '0003_env_and_server_limits': {
    async up(db: Kysely<any>) {
      // A project's environment variables; `value` is encrypted with the platform key (SecretBox).
      await db.schema
        .createTable('env_vars')
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        // comma-separated, sorted: "preview,production", "production" or "preview"
        .addColumn('targets', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('env_vars_pk', ['project_id', 'key'])
        .execute();
      // SQLite adds one column per statement
      await db.schema.alterTable('projects').addColumn('server_memory_mb', 'integer').execute();
      await db.schema.alterTable('projects').addColumn('server_request_timeout_seconds', 'integer').execute();
      // the deployment's own copy, taken when it is created (deployments are immutable):
      // env is the encrypted JSON object of its variables; the limits are the project's then
      await db.schema.alterTable('deployments').addColumn('env', 'text').execute();
      await db.schema.alterTable('deployments').addColumn('server_memory_mb', 'integer').execute();
      await db.schema.alterTable('deployments').addColumn('server_request_timeout_seconds', 'integer').execute();
    },
  },
  '0004_deployment_integrity_error': {
    async up(db: Kysely<any>) {
      // set when an edge or runtime found one of the deployment's blobs changed on disk (null: none found)
      await db.schema.alterTable('deployments').addColumn('integrity_error', 'text').execute();
    },
  },
  '0005_project_build_limits': {
    async up(db: Kysely<any>) {
      // a project's own build sandbox limits, within the operator's maxima (null: the operator's)
      await db.schema.alterTable('projects').addColumn('build_memory_mb', 'integer').execute();
      await db.schema.alterTable('projects').addColumn('build_disk_mb', 'integer').execute();
    },
  },
  '0006_node_version': {
    async up(db: Kysely<any>) {
      // the project's own Node.js request ("22", "lts/*"), over what its repository declares (null: that)
      await db.schema.alterTable('projects').addColumn('node_version', 'text').execute();
    },
  },
  '0007_project_process_limits': {
    async up(db: Kysely<any>) {
      // the project's own process and CPU limits, within the operator's maxima (null: the operator's)
      await db.schema.alterTable('projects').addColumn('build_pids', 'integer').execute();
      await db.schema.alterTable('projects').addColumn('build_cpu_shares', 'integer').execute();
      await db.schema.alterTable('projects').addColumn('server_pids', 'integer').execute();
      await db.schema.alterTable('projects').addColumn('server_cpu_shares', 'integer').execute();
      // copied into the deployment when it is made, like its memory limit
      await db.schema.alterTable('deployments').addColumn('server_pids', 'integer').execute();
      await db.schema.alterTable('deployments').addColumn('server_cpu_shares', 'integer').execute();
    },
  },
};
