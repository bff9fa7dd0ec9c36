import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { aliasTarget, branchAlias, createDeployment, getDeployment, moveAliasForward, PRODUCTION, promote, setProduction } from '../../src/deployments/index.js';
import { createProject } from '../../src/projects/index.js';
import { Queue } from '../../src/queue/index.js';
import { SecretBox } from '../../src/secrets.js';
import type { Project, Store } from '../../src/store/index.js';
import { forEachBackend, type OpenedStore } from '../helpers/backends.js';

// Automatic alias moves against a real SQLite store and a real PostgreSQL: a finished build
// never moves an alias back to a deployment created before the one it points at; a person still can.
forEachBackend('alias moves', (backend) => {
  let opened: OpenedStore;
  let store: Store;
  let box: SecretBox;
  let queue: Queue;
  let project: Project;

  before(async () => {
    opened = await backend.open();
    store = opened.store;
    box = new SecretBox(randomBytes(32));
    queue = new Queue(store, { leaseMs: 30_000 });
    project = (await store.tx((db) => createProject(db, box, { name: 'fwd', repoUrl: 'file:///nowhere' }))).project;
  });

  after(async () => {
    await opened?.cleanup();
  });

  async function readyDeployment(): Promise<string> {
    const d = await store.tx((db) => createDeployment(db, queue, box, { project, sha: randomBytes(20).toString('hex'), branch: null, trigger: 'api', target: 'production' }));
    await store.db
      .updateTable('deployments')
      .set({ status: 'ready', manifest_hash: 'f'.repeat(64) })
      .where('id', '=', d.id)
      .execute();
    return d.id;
  }

  test('a finished build moves production and a branch alias forward only; promote and rollback still go back', async () => {
    const older = await readyDeployment();
    const newer = await readyDeployment();
    const alias = branchAlias('main');
    await store.tx(async (db) => {
      assert.equal(await setProduction(db, await getDeployment(db, newer), { onlyIfNewer: true }), true);
      assert.equal(await moveAliasForward(db, project.id, alias, await getDeployment(db, newer)), true);
    });
    // the older build finishes last
    await store.tx(async (db) => {
      assert.equal(await setProduction(db, await getDeployment(db, older), { onlyIfNewer: true }), false);
      assert.equal(await moveAliasForward(db, project.id, alias, await getDeployment(db, older)), false);
    });
    assert.equal(await aliasTarget(store.db, project.id, PRODUCTION), newer);
    assert.equal(await aliasTarget(store.db, project.id, alias), newer);
    // the same deployment again is not "backwards"
    assert.equal(await store.tx(async (db) => moveAliasForward(db, project.id, alias, await getDeployment(db, newer))), true);
    // a person's promote moves production back on purpose
    await promote(store, older);
    assert.equal(await aliasTarget(store.db, project.id, PRODUCTION), older);
  });

  test('two builds finishing at once on two connections: the alias ends on the newer one', async () => {
    const older = await readyDeployment();
    const newer = await readyDeployment();
    const alias = branchAlias('race');
    // SQLite: one connection (transactions queue on it); PostgreSQL: another pool, as another machine
    const other = backend.name === 'postgres' ? await opened.another() : store;
    let finish!: () => void;
    const held = new Promise<void>((r) => {
      finish = r;
    });
    const first = store.tx(async (db) => {
      assert.equal(await moveAliasForward(db, project.id, alias, await getDeployment(db, newer)), true);
      await held; // not committed yet while the older build decides
    });
    await new Promise((r) => setTimeout(r, 50));
    const second = other.tx(async (db) => moveAliasForward(db, project.id, alias, await getDeployment(db, older)));
    await new Promise((r) => setTimeout(r, 200));
    finish();
    await first;
    assert.equal(await second, false, 'the older build saw the newer one and did not move the alias');
    assert.equal(await aliasTarget(store.db, project.id, alias), newer);
  });
});
