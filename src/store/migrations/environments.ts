import { sql, type Kysely, type Migration } from 'kysely';
import { newId } from '../../ids.js';

/**
 * Issue 11's environments: a row per environment a project configured (production and preview
 * exist without one: their defaults are code), and variables reshaped so one name can hold a
 * value per environment and per branch. SQLite cannot change a primary key in place, so the
 * variables move to a new table that then takes the old name.
 */
export const environmentsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('environments')
      .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      // the branch whose pushes deploy to it (null: production follows the project's production branch)
      .addColumn('branch', 'text')
      .addColumn('requires_approval', 'integer', (c) => c.notNull().defaultTo(0))
      // who may approve: 'owner' or 'member'
      .addColumn('approvers', 'text', (c) => c.notNull().defaultTo('owner'))
      // 0: a ready build does not take the alias; a person promotes it
      .addColumn('auto_promote', 'integer', (c) => c.notNull().defaultTo(1))
      // null | 'password' | 'token'
      .addColumn('protection_mode', 'text')
      // password: salted scrypt; token: sha256 of the bypass token (never the secret itself)
      .addColumn('protection_hash', 'text')
      // signs the access cookie of its hosts (hex, random per environment)
      .addColumn('protection_key', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('environments_pk', ['project_id', 'name'])
      .execute();

    await db.schema
      .createTable('env_vars_v2')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('key', 'text', (c) => c.notNull())
      // set: an override for deployments of this branch only
      .addColumn('branch', 'text')
      .addColumn('value', 'text', (c) => c.notNull())
      // comma-separated, sorted environment names: "preview,production", "staging"
      .addColumn('targets', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    const rows = await sql<{ project_id: string; key: string; value: string; targets: string; created_at: number; updated_at: number }>`select * from env_vars`.execute(db);
    for (const r of rows.rows) {
      await sql`insert into env_vars_v2 (id, project_id, key, branch, value, targets, created_at, updated_at)
        values (${newId('v')}, ${r.project_id}, ${r.key}, ${null}, ${r.value}, ${r.targets}, ${r.created_at}, ${r.updated_at})`.execute(db);
    }
    await db.schema.dropTable('env_vars').execute();
    await db.schema.alterTable('env_vars_v2').renameTo('env_vars').execute();
    await db.schema.createIndex('env_vars_project_key').on('env_vars').columns(['project_id', 'key']).execute();
  },
};
