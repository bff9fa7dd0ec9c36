import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { AppError } from '../../src/errors/index.js';
import { loadSecretKey } from '../../src/secrets.js';
import { checkPlatformKey } from '../../src/store/key-check.js';
import { forEachBackend, type OpenedStore } from '../helpers/backends.js';
import { tempDir } from '../helpers/paths.js';

// Several machines, one database: each must hold the installation's platform key. A machine
// started with a key of its own would write secrets nobody else can read.

forEachBackend('the platform key is the one the database was set up with', (backend) => {
  let opened: OpenedStore;
  before(async () => {
    opened = await backend.open();
  });
  after(async () => opened?.cleanup());

  test('the first process records its key; the same key passes again on another connection; another key stops the start', async () => {
    const key = randomBytes(32);
    await checkPlatformKey(opened.store.db, key, '/etc/slipway/secret.key');
    const second = await opened.another();
    await checkPlatformKey(second.db, Buffer.from(key), '/etc/slipway/secret.key');
    await assert.rejects(
      checkPlatformKey(second.db, randomBytes(32), '/srv/other/secret.key'),
      (err: unknown) => err instanceof AppError && err.code === 'CONFIG' && /\/srv\/other\/secret\.key/.test(err.message) && /--secret-key-file/.test(String(err.hint)),
    );
  });
});

test('--secret-key-file picks the key file; by default it is <data-dir>/secret.key', () => {
  assert.equal(loadConfig({ 'data-dir': '/srv/slipway' }, {}).secretKeyFile, '/srv/slipway/secret.key');
  assert.equal(loadConfig({ 'data-dir': '/srv/slipway' }, { SLIPWAY_SECRET_KEY_FILE: '/etc/slipway/key' }).secretKeyFile, '/etc/slipway/key');
});

test('a key file other users can read is refused with the chmod to run', async () => {
  const dir = await tempDir();
  try {
    const file = join(dir.path, 'secret.key');
    await writeFile(file, `${randomBytes(32).toString('base64')}\n`);
    await chmod(file, 0o644);
    await assert.rejects(loadSecretKey(file), /chmod 600/);
    await chmod(file, 0o600);
    assert.equal((await loadSecretKey(file)).length, 32);
  } finally {
    await dir.cleanup();
  }
});
