import assert from 'node:assert/strict';
import Sqlite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { join } from 'node:path';
import { test } from 'node:test';
import { migrations } from '../../src/store/migrations.js';
import { tempDir } from '../helpers/paths.js';

test('migration 0011 gives the projects that existed before it to a new team "default"', async () => {
  const dir = await tempDir('slipway-migrate-');
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new Sqlite(join(dir.path, 'slipway.db')) }) });
  try {
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
    assert.equal((await migrator.migrateTo('0010_certificate_attempts')).error, undefined);
    await db.insertInto('projects').values({ id: 'pold', name: 'old', repo_url: 'x', production_branch: 'main', webhook_secret: 'x', created_at: 1 }).execute();
    const { error, results } = await migrator.migrateToLatest();
    assert.equal(error, undefined);
    assert.ok(results?.some((r) => r.migrationName === '0011_accounts' && r.status === 'Success'));
    const team = await db.selectFrom('teams').selectAll().executeTakeFirstOrThrow();
    assert.equal(team.slug, 'default');
    assert.equal((await db.selectFrom('projects').select('team_id').where('id', '=', 'pold').executeTakeFirstOrThrow()).team_id, team.id);
  } finally {
    await db.destroy();
    await dir.cleanup();
  }
});
