import type { Kysely, Migration } from 'kysely';

/**
 * Issue 14: notifications (an outbox of events, where they go, each delivery and attempt) and
 * deploy commands by email (each project's secret address, the mail it received). Never change
 * what a shipped migration does; add a new one.
 */
export const notificationMigrations: Record<string, Migration> = {
  '0019_notifications': {
    async up(db: Kysely<any>) {
      // where events go: a signed webhook, a Slack-compatible incoming webhook, or one person's email
      await db.schema
        .createTable('notification_endpoints')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id').onDelete('cascade'))
        // null: every project of the team
        .addColumn('project_id', 'text', (c) => c.references('projects.id').onDelete('cascade'))
        // 'webhook' | 'slack' | 'email'
        .addColumn('kind', 'text', (c) => c.notNull())
        // webhook and slack: the URL, SecretBox-encrypted (a Slack URL is itself a credential)
        .addColumn('url_enc', 'text')
        // the URL as the API shows it (a Slack URL's secret path cut off)
        .addColumn('url_shown', 'text')
        // webhook: the signing secret, SecretBox-encrypted
        .addColumn('secret_enc', 'text')
        // email: the person subscribed
        .addColumn('user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
        // comma-separated event types
        .addColumn('events', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('notification_endpoints_team').on('notification_endpoints').columns(['team_id', 'project_id']).execute();
      // the outbox: written in the transaction of the change it announces
      await db.schema
        .createTable('notification_events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('team_id', 'text')
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('deployment_id', 'text')
        // JSON: the facts of the event (URLs are made when it is sent)
        .addColumn('data', 'text', (c) => c.notNull())
        // 0: the dispatcher has not made its deliveries yet
        .addColumn('fanned_out', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('notification_events_pending').on('notification_events').columns(['fanned_out', 'created_at']).execute();
      await db.schema
        .createTable('notification_deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('event_id', 'text', (c) => c.notNull().references('notification_events.id').onDelete('cascade'))
        .addColumn('endpoint_id', 'text', (c) => c.notNull().references('notification_endpoints.id').onDelete('cascade'))
        // 'pending' | 'retrying' | 'delivered' | 'failed' (gave up)
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_at', 'bigint', (c) => c.notNull())
        // a dispatcher sending it holds it until then; locked_by fences its writes
        .addColumn('locked_until', 'bigint')
        .addColumn('locked_by', 'text')
        .addColumn('last_status', 'integer')
        .addColumn('last_error', 'text')
        // the delivery this one re-sends (null: the first)
        .addColumn('resend_of', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('notification_deliveries_due').on('notification_deliveries').columns(['state', 'next_at']).execute();
      await db.schema.createIndex('notification_deliveries_endpoint').on('notification_deliveries').columns(['endpoint_id', 'created_at']).execute();
      await db.schema
        .createTable('notification_attempts')
        .addColumn('delivery_id', 'text', (c) => c.notNull().references('notification_deliveries.id').onDelete('cascade'))
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        // the HTTP status (null: no answer, or email)
        .addColumn('status', 'integer')
        .addColumn('ok', 'integer', (c) => c.notNull())
        .addColumn('duration_ms', 'integer', (c) => c.notNull())
        // the first KB of the answer, or the SMTP server's reply
        .addColumn('response', 'text')
        .addColumn('error', 'text')
        .addPrimaryKeyConstraint('notification_attempts_pk', ['delivery_id', 'attempt'])
        .execute();
      // deploy commands by email: the secret part of a project's address, sha256-hashed
      await db.schema
        .createTable('project_mail_addresses')
        .addColumn('project_id', 'text', (c) => c.primaryKey().references('projects.id').onDelete('cascade'))
        .addColumn('token_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      // every message the listener took for a project, with what the relay said about its sender
      await db.schema
        .createTable('inbound_mail')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('sender', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text')
        // 'pass', 'fail', ... from Authentication-Results (null: the relay said nothing)
        .addColumn('spf', 'text')
        .addColumn('dkim', 'text')
        .addColumn('command', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('deployment_id', 'text')
        .addColumn('received_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
};
