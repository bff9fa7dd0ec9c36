import { sql, type Kysely, type Migration } from 'kysely';
import { environmentsMigration } from './environments.js';

/** Previews, environments, the git host conversation and Idempotency-Key (issues 10 and 11: 0012-0016). Never change what a shipped migration does; add a new one. */
export const previewMigrations: Record<string, Migration> = {
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
