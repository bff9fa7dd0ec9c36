import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { AppError } from '../../src/errors/index.js';
import { openStore, poolSizeFor } from '../../src/store/index.js';
import { tempDir } from '../helpers/paths.js';
import { freshPostgres, postgresSkip } from '../helpers/postgres.js';

// --database-url / SLIPWAY_DATABASE_URL picks the store; without it the SQLite file in the data dir.

test('no database URL: the SQLite file <data-dir>/slipway.db', async () => {
  const dir = await tempDir();
  try {
    const config = loadConfig({ 'data-dir': dir.path }, {});
    assert.equal(config.databaseUrl, undefined);
    const store = await openStore(config, { roles: ['api', 'worker'] });
    assert.equal(store.dialect, 'sqlite');
    await store.close();
    await access(join(dir.path, 'slipway.db'));
  } finally {
    await dir.cleanup();
  }
});

test('a database URL that is not postgres:// stops with an example', () => {
  assert.throws(
    () => loadConfig({}, { SLIPWAY_DATABASE_URL: 'mysql://db/slipway' }),
    (err: unknown) => err instanceof AppError && err.code === 'CONFIG' && /postgres:\/\//.test(String(err.hint)),
  );
  assert.equal(loadConfig({ 'database-url': 'postgresql://u@h/db' }, { SLIPWAY_DATABASE_URL: 'postgres://other/db' }).databaseUrl, 'postgresql://u@h/db', 'the flag wins');
});

test('pool sizes follow the roles a process runs', () => {
  assert.equal(poolSizeFor(['api']), 10);
  assert.equal(poolSizeFor(['worker']), 4);
  assert.equal(poolSizeFor(['edge']), 2);
  assert.equal(poolSizeFor(['api', 'worker', 'edge']), 16);
});

test('SLIPWAY_DATABASE_URL=postgres://...: PostgreSQL, migrated, bigint read back as numbers', { skip: postgresSkip }, async () => {
  const database = await freshPostgres({ empty: true });
  try {
    const config = loadConfig({}, { SLIPWAY_DATABASE_URL: database.url });
    const store = await openStore(config, { roles: ['api'] });
    try {
      assert.equal(store.dialect, 'postgres');
      const meta = await store.db.selectFrom('meta').selectAll().where('key', '=', 'alias_generation').executeTakeFirstOrThrow();
      assert.deepEqual(meta, { key: 'alias_generation', value: 0 });
    } finally {
      await store.close();
    }
  } finally {
    await database.drop();
  }
});

test('a database nobody answers at: a CONFIG error naming the URL without its password', async () => {
  const config = loadConfig({ 'database-url': 'postgres://slipway:hunter2-secret@127.0.0.1:1/slipway' }, {});
  await assert.rejects(openStore(config, { roles: ['api'] }), (err: unknown) => {
    assert.ok(err instanceof AppError && err.code === 'CONFIG', String(err));
    assert.match(err.message, /Cannot connect to PostgreSQL at postgres:\/\/slipway:\*\*\*@127\.0\.0\.1:1\/slipway/);
    assert.doesNotMatch(err.message, /hunter2/);
    assert.match(String(err.hint), /--database-url/);
    return true;
  });
});
