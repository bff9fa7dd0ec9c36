import { randomBytes } from 'node:crypto';
import { PostgresAdapter, sql, type ColumnDataType, type ColumnDefinitionBuilder, type Kysely, type Migration } from 'kysely';
import { environmentsMigration } from './migration-0014.js';

/**
 * An auto-numbered integer primary key. SQLite: `integer primary key autoincrement`, as these
 * migrations always made it. PostgreSQL has no AUTOINCREMENT keyword: a `serial` column (an
 * int4 with its own sequence) numbers rows the same way.
 */
export function autoId(db: Kysely<any>): [ColumnDataType, (c: ColumnDefinitionBuilder) => ColumnDefinitionBuilder] {
  if (db.getExecutor().adapter instanceof PostgresAdapter) return ['serial', (c) => c.primaryKey()];
  return ['integer', (c) => c.primaryKey().autoIncrement()];
}

/**
 * Schema migrations, in order. Written with Kysely's schema builder so the same steps run on
 * SQLite and PostgreSQL. Never change what a shipped migration does; add a new one. (A step
 * PostgreSQL cannot run gets dialect-aware code, as autoId, that does on SQLite what it did.)
 */
export const migrations: Record<string, Migration> = {
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
  '0008_domains_and_certificates': {
    async up(db: Kysely<any>) {
      // A host name a project serves (custom domains, redirect domains, wildcards "*.example.com").
      // Routing reads it like an alias: every change bumps meta.alias_generation.
      await db.schema
        .createTable('domains')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        // the alias it serves ('production' today; environments later)
        .addColumn('environment', 'text', (c) => c.notNull().defaultTo('production'))
        .addColumn('redirect_to', 'text')
        .addColumn('redirect_status', 'integer')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_detail', 'text')
        .addColumn('dns_checked_at', 'bigint')
        .addColumn('next_check_at', 'bigint')
        .addColumn('check_failures', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('domains_project').on('domains').column('project_id').execute();
      await db.schema.createIndex('domains_next_check').on('domains').columns(['status', 'next_check_at']).execute();

      // Certificates every edge process serves by SNI; changes bump meta.tls_generation.
      await db.schema
        .createTable('certificates')
        .addColumn('id', 'text', (c) => c.primaryKey())
        // JSON array of the names it covers, lower-case, punycode ("*.example.com" for a wildcard)
        .addColumn('names', 'text', (c) => c.notNull())
        // 'acme' or 'operator' (--tls-cert) or 'self-signed'
        .addColumn('source', 'text', (c) => c.notNull())
        // PEM chain, leaf first
        .addColumn('cert_pem', 'text', (c) => c.notNull())
        // PEM private key, SecretBox-encrypted
        .addColumn('key_enc', 'text', (c) => c.notNull())
        .addColumn('not_before', 'bigint', (c) => c.notNull())
        .addColumn('not_after', 'bigint', (c) => c.notNull())
        // when renewal starts (jittered); null: never renewed here (operator certificates)
        .addColumn('renew_at', 'bigint')
        .addColumn('renew_failures', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();

      // The installation's ACME account per directory URL; the account key is SecretBox-encrypted.
      await db.schema
        .createTable('acme_accounts')
        .addColumn('directory', 'text', (c) => c.primaryKey())
        .addColumn('account_url', 'text')
        .addColumn('email', 'text')
        .addColumn('key_enc', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();

      // Pending challenge answers every edge process must give: 'http-01' keyed by token
      // (value: key authorization), 'tls-alpn-01' keyed by host name (value: encrypted JSON {certPem, keyPem}).
      await db.schema
        .createTable('acme_challenges')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('acme_challenges_pk', ['kind', 'key'])
        .execute();

      // What was asked of the CA, so its rate limits are counted and respected:
      // kind 'order' (name: the order's first name) or 'failed-validation' (name: the host).
      await db.schema
        .createTable('acme_events')
        .addColumn('id', ...autoId(db))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('acme_events_kind_at').on('acme_events').columns(['kind', 'at']).execute();

      // per-project edge settings: the Strict-Transport-Security max-age in seconds (null: no HSTS),
      // and whether site rules may rewrite to outside https:// URLs (null/0: refused)
      await db.schema.alterTable('projects').addColumn('hsts_max_age', 'integer').execute();
      await db.schema.alterTable('projects').addColumn('external_rewrites', 'integer').execute();

      await sql`insert into meta (key, value) values ('tls_generation', 0)`.execute(db);
    },
  },
  '0009_domains_more': {
    async up(db: Kysely<any>) {
      // what the last DNS check of a domain saw (JSON { apex, cname, addresses, error? }), so the
      // API can say which record to create and why the one there is not right
      await db.schema.alterTable('domains').addColumn('dns_seen', 'text').execute();
    },
  },
  '0010_certificate_attempts': {
    async up(db: Kysely<any>) {
      // the certificate manager's own retry schedule per domain (src/acme), apart from the DNS
      // check's next_check_at / check_failures, so the two loops never reschedule each other
      await db.schema
        .createTable('certificate_attempts')
        .addColumn('domain', 'text', (c) => c.primaryKey().references('domains.name').onDelete('cascade'))
        // not before this (backoff, a rate limit, the CA's Retry-After); null: now
        .addColumn('next_at', 'bigint')
        // failed orders in a row
        .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    },
  },
  '0011_accounts': {
    async up(db: Kysely<any>) {
      // People: email is stored lower-case (unique); password_hash is a versioned scrypt string (src/auth/password.ts)
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('email', 'text', (c) => c.notNull().unique())
        .addColumn('name', 'text')
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('teams')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('slug', 'text', (c) => c.notNull().unique())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('memberships')
        .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        // 'owner' | 'member' | 'viewer'
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('memberships_pk', ['team_id', 'user_id'])
        .execute();
      await db.schema.createIndex('memberships_user').on('memberships').column('user_id').execute();
      // Browser sessions: only the sha256 of the cookie's id is kept; user_id null is the installation admin
      await db.schema
        .createTable('sessions')
        .addColumn('id_hash', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
        .addColumn('csrf', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('ip', 'text')
        .execute();
      await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();
      // API tokens: personal (kind 'personal', optional team scope) or deploy (kind 'deploy', one project)
      await db.schema
        .createTable('tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('hash', 'text', (c) => c.notNull().unique())
        // the first characters of the token, shown so a person can tell their tokens apart
        .addColumn('prefix', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        // who made it (null: the installation admin, deploy tokens only)
        .addColumn('user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
        .addColumn('team_id', 'text', (c) => c.references('teams.id').onDelete('cascade'))
        .addColumn('project_id', 'text', (c) => c.references('projects.id').onDelete('cascade'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint')
        .addColumn('last_used_at', 'bigint')
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema.createIndex('tokens_user').on('tokens').column('user_id').execute();
      // One-time invitation links: only the sha256 of the link's token is kept
      await db.schema
        .createTable('invitations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('hash', 'text', (c) => c.notNull().unique())
        .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id').onDelete('cascade'))
        .addColumn('role', 'text', (c) => c.notNull())
        // set: only this address may accept it
        .addColumn('email', 'text')
        .addColumn('created_by', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('accepted_at', 'bigint')
        .addColumn('accepted_by', 'text')
        .execute();
      // Who did what, per team; written in the same transaction as the change it records
      await db.schema
        .createTable('audit_events')
        .addColumn('id', ...autoId(db))
        .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id').onDelete('cascade'))
        // 'user' | 'token' | 'admin'
        .addColumn('actor_type', 'text', (c) => c.notNull())
        .addColumn('actor_id', 'text', (c) => c.notNull())
        .addColumn('actor_email', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('target', 'text', (c) => c.notNull())
        // JSON object
        .addColumn('details', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('ip', 'text')
        .execute();
      await db.schema.createIndex('audit_events_team').on('audit_events').columns(['team_id', 'id']).execute();
      // Login attempts for the sliding-window rate limit: key 'account:<email>' or 'address:<ip>'
      await db.schema
        .createTable('login_attempts')
        .addColumn('id', ...autoId(db))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('login_attempts_key_at').on('login_attempts').columns(['key', 'at']).execute();

      // every project belongs to a team; the ones made before teams go to team "default"
      await db.schema
        .alterTable('projects')
        .addColumn('team_id', 'text', (c) => c.references('teams.id'))
        .execute();
      await db.schema.createIndex('projects_team').on('projects').column('team_id').execute();
      const defaultTeam = `t${randomBytes(8).toString('hex').slice(0, 11)}`;
      await sql`insert into teams (id, slug, name, created_at) values (${defaultTeam}, 'default', 'Default', ${Date.now()})`.execute(db);
      await sql`update projects set team_id = ${defaultTeam}`.execute(db);
    },
  },
  // Issue 11's shared ground: which environment a deployment is for, and where its commit came from
  '0012_deployment_source': {
    async up(db: Kysely<any>) {
      await db.schema
        .alterTable('deployments')
        // the environment it goes live in: 'production', 'preview' or a named one ('staging')
        .addColumn('environment', 'text', (c) => c.notNull().defaultTo('preview'))
        .execute();
      await sql`update deployments set environment = target`.execute(db);
      await db.schema.alterTable('deployments').addColumn('pr_number', 'integer').execute();
      // the repository at the git host, "owner/name" (GitLab: the path with namespace)
      await db.schema.alterTable('deployments').addColumn('source_repo', 'text').execute();
      // a pull request from a fork: the fork's "owner/name" (null: same repository)
      await db.schema.alterTable('deployments').addColumn('head_repo', 'text').execute();
      // 'github' | 'gitlab' | 'gitea' (null: not from a git host webhook)
      await db.schema.alterTable('deployments').addColumn('source_provider', 'text').execute();
      await db.schema.createIndex('deployments_project_env').on('deployments').columns(['project_id', 'environment', 'seq']).execute();
      await db.schema.createIndex('deployments_project_pr').on('deployments').columns(['project_id', 'pr_number']).execute();
    },
  },
  // Previews of every branch and pull request: per-project settings, and which preview aliases were removed
  '0013_preview_settings': {
    async up(db: Kysely<any>) {
      await db.schema
        .alterTable('projects')
        .addColumn('previews_enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .execute();
      // JSON {"include"?: [globs], "exclude"?: [globs]} (null: every branch)
      await db.schema.alterTable('projects').addColumn('preview_branches', 'text').execute();
      // JSON {"paths": [..]} or {"command": ".."} (null: every push builds)
      await db.schema.alterTable('projects').addColumn('ignored_build_step', 'text').execute();
      await db.schema
        .alterTable('projects')
        .addColumn('fork_previews', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      // A preview alias taken away (branch deleted, pull request closed): builds of it made up to
      // removed_seq do not bring it back when they finish
      await db.schema
        .createTable('removed_aliases')
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('removed_seq', 'bigint', (c) => c.notNull())
        .addColumn('removed_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('removed_aliases_pk', ['project_id', 'name'])
        .execute();
      // audit_events.actor_type gains 'webhook' (actor_id: the git host): a text column, no change needed
    },
  },
  // Issue 11: environments (approval, protection) and variables per environment and branch
  '0014_environments': environmentsMigration,
  // Issue 11: what was last told to the git host about each deployment, the one PR comment, team credentials
  '0015_git_host_reports': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('git_host_reports')
        .addColumn('deployment_id', 'text', (c) => c.primaryKey().references('deployments.id').onDelete('cascade'))
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('repo', 'text', (c) => c.notNull())
        // the steps already sent, comma-separated in order ("queued,in_progress,success")
        .addColumn('sent', 'text', (c) => c.notNull().defaultTo(''))
        // the GitHub Deployment made for it (null: not made yet, or GitLab)
        .addColumn('remote_id', 'bigint')
        // 'pending' | 'sent' | 'retrying' | 'failed' (gave up)
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_error', 'text')
        .addColumn('first_failed_at', 'bigint')
        .addColumn('next_at', 'bigint')
        // a reporter working on it; another process leaves it alone until then
        .addColumn('locked_until', 'bigint')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      // the reporter looks at the last week's deployments several times a second
      await db.schema.createIndex('deployments_created').on('deployments').column('created_at').execute();
      await db.schema
        .createTable('git_host_comments')
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('repo', 'text', (c) => c.notNull())
        .addColumn('pr_number', 'integer', (c) => c.notNull())
        .addColumn('comment_id', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('git_host_comments_pk', ['project_id', 'repo', 'pr_number'])
        .execute();
      await db.schema
        .createTable('team_git_hosts')
        .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id').onDelete('cascade'))
        .addColumn('provider', 'text', (c) => c.notNull())
        // SecretBox-encrypted JSON: { token } or { appId, privateKey }
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('api_url', 'text')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('team_git_hosts_pk', ['team_id', 'provider'])
        .execute();
    },
  },
  // Idempotency-Key: the first request with a key claims its row, the answer is kept for 24 h
  '0016_idempotency_keys': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('idempotency_keys')
        .addColumn('caller', 'text', (c) => c.notNull())
        .addColumn('route', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('request_hash', 'text', (c) => c.notNull())
        // null while the first request runs
        .addColumn('status', 'integer')
        .addColumn('response', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_keys_pk', ['caller', 'route', 'key'])
        .execute();
      await db.schema.createIndex('idempotency_keys_created').on('idempotency_keys').column('created_at').execute();
    },
  },
};
