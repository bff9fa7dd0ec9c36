import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { Queue } from '../../src/queue/index.js';
import { Store } from '../../src/store/index.js';
import { migrations } from '../../src/store/migrations/index.js';
import { forEachBackend, type OpenedStore, postgresBackend } from '../helpers/backends.js';
import { postgresSkip } from '../helpers/postgres.js';
import { addProject, enqueueBuild } from './fixture.js';

// The queue shared by several processes (here: several stores on one database, each with its own
// connections, as workers on different machines have). What PostgreSQL adds: claims that never
// wait on each other, and leases measured by the database's clock, not the workers'.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

forEachBackend('queue shared by several workers', (backend) => {
  let opened: OpenedStore;
  before(async () => {
    opened = await backend.open();
    await addProject(opened.store);
  });
  after(async () => opened?.cleanup());

  test('N concurrent claimers on two connections never get the same job, and every job runs once', async () => {
    // SQLite: one connection. Two better-sqlite3 connections in one process deadlock (a write
    // waiting on busy_timeout blocks the event loop the other's open transaction needs to commit);
    // separate processes on one file are what `slipway up`'s edge workers do, and they only read.
    const stores = [opened.store, backend.name === 'postgres' ? await opened.another() : opened.store];
    const queues = stores.map((s) => new Queue(s, { leaseMs: 30_000 }));
    const ids = new Set<string>();
    for (let i = 0; i < 40; i++) ids.add(await enqueueBuild(opened.store, queues[0]!));
    const ran: string[] = [];
    // 4 claim loops per store, all at once
    const loops = queues.flatMap((queue, q) =>
      [0, 1, 2, 3].map(async (w) => {
        for (;;) {
          const job = await queue.claim(`w${q}-${w}`);
          if (job === undefined) return;
          ran.push(job.deploymentId);
          assert.equal(await stores[q]!.tx((db) => queue.complete(db, job)), true, 'the claimer still owns its job');
        }
      }),
    );
    await Promise.all(loops);
    assert.equal(ran.length, ids.size, 'no job was claimed twice');
    assert.deepEqual(new Set(ran), ids, 'every job was claimed');
  });
});

describe('queue on PostgreSQL: locks and the database clock', { skip: postgresSkip }, () => {
  let opened: OpenedStore;
  let queue: Queue;
  const realNow = Date.now;
  /** pretend this process's clock is `ms` off (a machine with a wrong clock) */
  const skew = (ms: number) => {
    Date.now = () => realNow() + ms;
  };
  before(async () => {
    opened = await postgresBackend.open();
    await addProject(opened.store);
    queue = new Queue(opened.store, { leaseMs: 300, backoffBaseMs: 0 });
  });
  afterEach(() => {
    Date.now = realNow;
  });
  after(async () => opened?.cleanup());

  test('a claim in flight does not hold up other claimers (SKIP LOCKED)', async () => {
    const first = await enqueueBuild(opened.store, queue);
    const second = await enqueueBuild(opened.store, queue);
    const other = new Queue(await opened.another(), { leaseMs: 300 });
    // another worker is in the middle of claiming the oldest job: its row is locked
    let releaseLock!: () => void;
    const held = new Promise<void>((r) => {
      releaseLock = r;
    });
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => {
      locked = r;
    });
    const holder = opened.store.db.transaction().execute(async (tx) => {
      await sql`select id from jobs where deployment_id = ${first} for update`.execute(tx);
      locked();
      await held;
    });
    await isLocked;
    const started = realNow();
    const job = await Promise.race([other.claim('w2'), sleep(2000).then(() => 'blocked' as const)]);
    releaseLock();
    await holder;
    assert.notEqual(job, 'blocked', 'the claim waited on the locked row');
    assert.equal(typeof job === 'object' ? job.deploymentId : job, second, 'it took the next job instead');
    assert.ok(realNow() - started < 1000);
    // clean up: both jobs done
    await opened.store.tx((db) => queue.complete(db, job as NonNullable<typeof job & object>));
    const rest = (await queue.claim('w1'))!;
    assert.equal(rest.deploymentId, first);
    await opened.store.tx((db) => queue.complete(db, rest));
  });

  test('a lease expires by the database clock: a fast-clocked owner cannot keep it, a slow-clocked reaper still reclaims it', async () => {
    await enqueueBuild(opened.store, queue);
    skew(3_600_000); // the owner's machine runs an hour fast
    const owner = (await queue.claim('fast'))!;
    assert.ok(owner);
    skew(-3_600_000); // the reaper's machine runs an hour slow
    assert.equal(await queue.reapExpired(async () => {}), 0, 'a live lease is not reaped');
    await sleep(400);
    assert.equal(await queue.reapExpired(async () => {}), 1, 'the lease ran out by the database clock');
    skew(0);
    const next = (await queue.claim('second'))!;
    assert.equal(next.id, owner.id);
    assert.equal(next.attempt, 2);
    await opened.store.tx((db) => queue.complete(db, next));
  });

  test('a worker whose clock runs fast does not reap a lease its owner keeps alive', async () => {
    await enqueueBuild(opened.store, queue);
    const owner = (await queue.claim('owner'))!;
    skew(3_600_000); // a second worker's machine an hour ahead: by its clock every lease has expired
    for (let i = 0; i < 4; i++) {
      await sleep(100);
      Date.now = realNow;
      assert.equal(await queue.heartbeat(owner), true);
      skew(3_600_000);
      assert.equal(await queue.reapExpired(async () => {}), 0, 'the job keeps one owner');
    }
    assert.equal(await queue.claim('thief'), undefined);
    assert.equal(await opened.store.tx((db) => queue.complete(db, owner)), true);
  });

  test('the fencing token refuses a stale owner everything: heartbeat, complete, retry, release', async () => {
    await enqueueBuild(opened.store, queue);
    const stale = (await queue.claim('stale'))!;
    await sleep(400);
    assert.equal(await queue.reapExpired(async () => {}), 1);
    const owner = (await queue.claim('owner'))!;
    assert.notEqual(owner.token, stale.token);
    assert.equal(await queue.heartbeat(stale), false);
    assert.equal(await opened.store.tx((db) => queue.complete(db, stale)), false);
    assert.equal(await opened.store.tx((db) => queue.failAndRetry(db, stale, 'x')), 'lost');
    await queue.release(stale);
    const row = await opened.store.db.selectFrom('jobs').select(['status', 'locked_by']).where('id', '=', owner.id).executeTakeFirstOrThrow();
    assert.deepEqual(row, { status: 'running', locked_by: owner.token }, 'the new owner still holds the job');
    assert.equal(await opened.store.tx((db) => queue.complete(db, owner)), true);
  });

  test('several processes migrating one empty database at once: all start, each migration runs once', async () => {
    const empty = await postgresBackend.open({ empty: true });
    const url = empty.store.db;
    try {
      const { rows: before } = await sql<{ n: number }>`select count(*) as n from pg_tables where tablename = 'jobs'`.execute(url);
      assert.equal(before[0]!.n, 0);
      const stores = await Promise.all([1, 2, 3, 4].map(() => Store.openPostgres(empty.url!, { poolSize: 2 })));
      for (const s of stores) await s.close();
      const { rows } = await sql<{ name: string; n: number }>`select name, count(*) as n from kysely_migration group by name`.execute(url);
      assert.equal(rows.length, Object.keys(migrations).length, 'every migration is recorded');
      assert.ok(rows.every((r) => r.n === 1));
      assert.equal(typeof rows[0]!.n, 'number', 'bigint counts come back as numbers');
    } finally {
      await empty.cleanup();
    }
  });
});
