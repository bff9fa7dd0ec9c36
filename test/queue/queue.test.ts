import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Queue } from '../../src/queue/index.js';
import type { Store } from '../../src/store/index.js';
import { forEachBackend, type OpenedStore } from '../helpers/backends.js';
import { addProject, enqueueBuild } from './fixture.js';

// The queue's contract against a real SQLite file and a real PostgreSQL. Leases are short so
// expiry can be observed.
forEachBackend('queue', (backend) => {
  let store: Store;
  let queue: Queue;
  let opened: OpenedStore;

  before(async () => {
    opened = await backend.open();
    store = opened.store;
    queue = new Queue(store, { leaseMs: 200, backoffBaseMs: 0 });
    await addProject(store);
  });
  after(async () => {
    await opened?.cleanup();
  });

  const enqueue = () => enqueueBuild(store, queue);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  test('a job is claimed by one worker at a time, oldest first', async () => {
    const first = await enqueue();
    const second = await enqueue();
    const a = await queue.claim('a');
    const b = await queue.claim('b');
    assert.equal(a?.deploymentId, first);
    assert.equal(b?.deploymentId, second);
    assert.equal(await queue.claim('c'), undefined);
    assert.equal(await store.tx((db) => queue.complete(db, a!)), true);
    assert.equal(await store.tx((db) => queue.complete(db, b!)), true);
  });

  test('a worker that lost its lease cannot complete; the new owner can', async () => {
    await enqueue();
    const old = (await queue.claim('old'))!;
    await sleep(250);
    assert.equal(await queue.reapExpired(async () => {}), 1);
    const fresh = (await queue.claim('new'))!;
    assert.equal(fresh.id, old.id);
    assert.equal(fresh.attempt, 2);
    assert.equal(await queue.heartbeat(old), false, 'the old worker learns it lost the lease');
    assert.equal(await store.tx((db) => queue.complete(db, old)), false);
    assert.equal(await queue.heartbeat(fresh), true);
    assert.equal(await store.tx((db) => queue.complete(db, fresh)), true);
  });

  test('heartbeats keep a lease alive past its duration', async () => {
    await enqueue();
    const job = (await queue.claim('w'))!;
    for (let i = 0; i < 4; i++) {
      await sleep(100);
      assert.equal(await queue.heartbeat(job), true);
    }
    assert.equal(await queue.reapExpired(async () => {}), 0);
    await store.tx((db) => queue.complete(db, job));
  });

  test('system failures retry up to max attempts, then the job is dead', async () => {
    await enqueue();
    for (let attempt = 1; attempt <= 3; attempt++) {
      const job = (await queue.claim('w'))!;
      assert.equal(job.attempt, attempt);
      const outcome = await store.tx((db) => queue.failAndRetry(db, job, 'disk full'));
      assert.equal(outcome, attempt < 3 ? 'retrying' : 'dead');
    }
    assert.equal(await queue.claim('w'), undefined);
  });

  test('a released job goes back without using an attempt; canceled jobs are never claimed', async () => {
    await enqueue();
    const job = (await queue.claim('w'))!;
    await queue.release(job);
    const again = (await queue.claim('w'))!;
    assert.equal(again.attempt, 1);
    await store.tx((db) => queue.complete(db, again));
    const other = await enqueue();
    await store.tx((db) => queue.cancelQueued(db, [other]));
    assert.equal(await queue.claim('w'), undefined);
  });
});
