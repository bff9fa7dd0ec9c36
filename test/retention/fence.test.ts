import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { fenceHolds, readFence, releaseLease, renewLease, startSweep, takeLease } from '../../src/retention/fence.js';
import type { Store } from '../../src/store/index.js';
import { forEachBackend, type OpenedStore } from '../helpers/backends.js';

// The collector's lease and fence, seen from two connections as two worker processes hold them.
forEachBackend('garbage collector lease and fence', (backend) => {
  let opened: OpenedStore;
  let one: Store;
  let two: Store;
  before(async () => {
    opened = await backend.open();
    one = opened.store;
    two = await opened.another();
  });
  after(async () => {
    await opened?.cleanup();
  });

  it('one collector at a time: the other is refused until the lease is given back or lapses', async () => {
    assert.equal(await takeLease(one, 'worker-1'), true);
    assert.equal(await takeLease(two, 'worker-2'), false);
    assert.equal(await renewLease(two, 'worker-2'), false, 'a lease it never had cannot be renewed');
    assert.equal(await renewLease(one, 'worker-1'), true);
    await releaseLease(one, 'worker-1', { ran: true });
    assert.equal(await takeLease(two, 'worker-2'), true);
    // worker-2 died holding it: once lease_until passes, worker-1 takes it over
    await two.db
      .updateTable('gc_state')
      .set({ lease_until: Date.now() - 1 })
      .where('id', '=', 'gc')
      .execute();
    assert.equal(await takeLease(one, 'worker-1'), true);
    assert.equal(await renewLease(two, 'worker-2'), false, 'the dead one lost it');
    await releaseLease(one, 'worker-1', undefined);
    const row = await one.db.selectFrom('gc_state').selectAll().executeTakeFirstOrThrow();
    assert.equal(row.lease_owner, null);
    assert.equal(JSON.parse(row.last_report ?? 'null')?.ran, true, 'a release without a report keeps the last one');
  });

  it('a fence read before a sweep no longer holds once it starts, nor one read during it; after it a new one does', async () => {
    const before = await readFence(two.db);
    assert.equal(before.clean, true);
    assert.equal(await two.tx((db) => fenceHolds(db, before)), true);

    assert.equal(await takeLease(one, 'collector'), true);
    await startSweep(one, 'collector');
    assert.equal(await two.tx((db) => fenceHolds(db, before)), false, 'the build that looked before the sweep packages again');
    const during = await readFence(two.db);
    assert.equal(during.clean, false);
    await releaseLease(one, 'collector', undefined);
    assert.equal(await two.tx((db) => fenceHolds(db, during)), false, 'a fence read during a sweep vouches for nothing');

    const afterwards = await readFence(two.db);
    assert.equal(afterwards.clean, true);
    assert.ok(afterwards.generation > before.generation);
    assert.equal(await two.tx((db) => fenceHolds(db, afterwards)), true);

    // a collector that died mid-sweep stops blocking builds once its lease lapses
    assert.equal(await takeLease(one, 'crashed'), true);
    await startSweep(one, 'crashed');
    assert.equal((await readFence(two.db)).clean, false);
    await one.db
      .updateTable('gc_state')
      .set({ lease_until: Date.now() - 1 })
      .where('id', '=', 'gc')
      .execute();
    assert.equal((await readFence(two.db)).clean, true);
  });
});
