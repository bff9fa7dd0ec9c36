import { sql, type Kysely, type Migration } from 'kysely';
import { autoId } from './auto-id.js';

/** Custom domains, certificates and ACME (issue 9: 0008-0010). Never change what a shipped migration does; add a new one. */
export const domainMigrations: Record<string, Migration> = {
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
};
