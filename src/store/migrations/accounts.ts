import { randomBytes } from 'node:crypto';
import { sql, type Kysely, type Migration } from 'kysely';
import { autoId } from './auto-id.js';

/** People: users, teams, sessions, tokens, invitations, the audit trail (issue 10: 0011). Never change what a shipped migration does; add a new one. */
export const accountMigrations: Record<string, Migration> = {
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
};
