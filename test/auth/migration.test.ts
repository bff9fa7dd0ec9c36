import assert from 'node:assert/strict';
import { type Kysely, Migrator } from 'kysely';
import { after, before, test } from 'node:test';
import { migrations } from '../../src/store/migrations/index.js';
import { forEachBackend, type OpenedStore } from '../helpers/backends.js';

forEachBackend('migrations', (backend) => {
  let opened: OpenedStore;
  before(async () => {
    opened = await backend.open({ empty: true });
  });
  after(async () => opened?.cleanup());

  test('migration 0011 gives the projects that existed before it to a new team "default"', async () => {
    // before 0011 the schema is not what schema.ts describes
    const db = opened.store.db as unknown as Kysely<any>;
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
    assert.equal((await migrator.migrateTo('0010_certificate_attempts')).error, undefined);
    await db.insertInto('projects').values({ id: 'pold', name: 'old', repo_url: 'x', production_branch: 'main', webhook_secret: 'x', created_at: 1 }).execute();
    const { error, results } = await migrator.migrateToLatest();
    assert.equal(error, undefined);
    assert.ok(results?.some((r) => r.migrationName === '0011_accounts' && r.status === 'Success'));
    const team = await db.selectFrom('teams').selectAll().executeTakeFirstOrThrow();
    assert.equal(team.slug, 'default');
    assert.equal((await db.selectFrom('projects').select('team_id').where('id', '=', 'pold').executeTakeFirstOrThrow()).team_id, team.id);
  });
});
