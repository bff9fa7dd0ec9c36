import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LocalBlobStore, sha256 } from '../../src/blobs/index.js';
import { createProject } from '../../src/projects/index.js';
import { collectGarbage } from '../../src/retention/collect.js';
import { SecretBox } from '../../src/secrets.js';
import { forEachBackend, type OpenedStore } from '../helpers/backends.js';
import { tempDir } from '../helpers/paths.js';

// Build caches shared through the blob store (src/build/cache-share.ts) are archives no
// deployment's manifest names: the collector must keep the ones an entry points at, and may
// take the ones a newer save replaced.

forEachBackend('garbage collection and shared build cache archives', (backend) => {
  let opened: OpenedStore;
  let tmp: { path: string; cleanup(): Promise<void> };
  before(async () => {
    opened = await backend.open();
    tmp = await tempDir('slipway-gc-archives-');
  });
  after(async () => {
    await opened?.cleanup();
    await tmp?.cleanup();
  });

  test('the archive an entry names stays; the one it named before is collected', async () => {
    const { store } = opened;
    const blobs = new LocalBlobStore(join(tmp.path, 'blobs'));
    const { project } = await store.tx((db) => createProject(db, new SecretBox(randomBytes(32)), { name: 'cached', repoUrl: 'https://example.com/r.git' }));
    const old = Buffer.from('an older node_modules archive');
    const current = Buffer.from('the node_modules archive of the newest save');
    await blobs.put(sha256(old), old);
    await blobs.put(sha256(current), current);
    await store.db
      .insertInto('build_cache_entries')
      .values({ project_id: project.id, kind: 'deps', key: 'k1', blob_hash: sha256(current), bytes: current.length, created_at: Date.now() })
      .execute();
    const report = await collectGarbage({ store, blobs, dataDir: tmp.path }, { graceMs: 0 });
    assert.equal(await blobs.has(sha256(current)), true, 'the archive an entry names is kept');
    assert.equal(await blobs.has(sha256(old)), false, 'an archive no entry names is collected');
    assert.equal(report.warnings.length, 0, JSON.stringify(report.warnings));
  });
});
