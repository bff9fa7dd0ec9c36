import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, it } from 'node:test';
import { markActive, markFailed } from '../../src/acme/domain-status.js';
import { createEndpoint, recordDeploymentEvent, resendDelivery } from '../../src/notify/index.js';
import { claimDue, fanOut, recordAttempt } from '../../src/notify/outbox.js';
import { SecretBox } from '../../src/secrets.js';
import type { Db, Store } from '../../src/store/index.js';
import { forEachBackend, type OpenedStore } from '../helpers/backends.js';

// The outbox on both backends: an event exists exactly when its change committed, each event
// becomes one delivery per endpoint that asked for it however many dispatchers run, and two
// dispatchers never send one delivery at once.

const box = new SecretBox(randomBytes(32));
const now = Date.now();

async function seed(db: Db): Promise<void> {
  for (const t of ['ta', 'tb'])
    await db
      .insertInto('teams')
      .values({ id: t, slug: `team-${t}`, name: t, created_at: now })
      .execute();
  for (const [p, t] of [
    ['pa', 'ta'],
    ['pa2', 'ta'],
    ['pb', 'tb'],
  ] as const) {
    await db
      .insertInto('projects')
      .values({ id: p, name: `site-${p}`, repo_url: 'file:///nowhere', production_branch: 'main', webhook_secret: 'x', created_at: now, team_id: t } as never)
      .execute();
  }
  let seq = 0;
  for (const p of ['pa', 'pa2', 'pb']) {
    seq += 1;
    await db
      .insertInto('deployments')
      .values({
        id: `d${p}`,
        project_id: p,
        seq,
        status: 'ready',
        target: 'production',
        environment: 'production',
        trigger: 'api',
        branch: 'main',
        commit_sha: 'a'.repeat(40),
        attempts: 0,
        created_at: now,
      } as never)
      .execute();
  }
}

async function sequential<T>(runs: Array<() => Promise<T>>): Promise<T[]> {
  const out: T[] = [];
  for (const run of runs) out.push(await run());
  return out;
}

const webhook = (db: Db, teamId: string, projectId: string | undefined, events?: string[]) =>
  createEndpoint(
    db,
    box,
    { teamId, ...(projectId === undefined ? {} : { projectId }) },
    { kind: 'webhook', url: 'http://127.0.0.1:9/hook', ...(events === undefined ? {} : { events }) },
    { userId: null },
  );

forEachBackend('notification outbox', (backend) => {
  let opened: OpenedStore;
  let store: Store;
  let other: Store;
  const ids: Record<string, string> = {};
  before(async () => {
    opened = await backend.open();
    store = opened.store;
    other = await opened.another();
    await seed(store.db);
    ids.readyOnly = (await webhook(store.db, 'ta', 'pa', ['deployment.ready'])).row.id;
    ids.teamAll = (await webhook(store.db, 'ta', undefined)).row.id;
    ids.failedOnly = (await webhook(store.db, 'ta', 'pa', ['deployment.failed'])).row.id;
    ids.otherProject = (await webhook(store.db, 'ta', 'pa2')).row.id;
    ids.otherTeam = (await webhook(store.db, 'tb', undefined)).row.id;
  });
  after(() => opened?.cleanup());

  it('an event rolled back with its change never exists; a committed one fans out once per endpoint that asked for it, with two dispatchers at once', async () => {
    await assert.rejects(
      store.tx(async (db) => {
        await recordDeploymentEvent(db, 'deployment.ready', 'dpa');
        throw new Error('the change failed');
      }),
      /the change failed/,
    );
    assert.equal((await store.db.selectFrom('notification_events').selectAll().execute()).length, 0);
    await store.tx((db) => recordDeploymentEvent(db, 'deployment.ready', 'dpa'));
    // at once on PostgreSQL; on SQLite one after another: better-sqlite3 is synchronous, so two
    // connections of one process waiting on each other's write lock would block the event loop
    // (separate processes, as in production, simply queue on busy_timeout)
    const runs = [() => fanOut(store), () => fanOut(other), () => fanOut(store)];
    const handled = backend.name === 'postgres' ? await Promise.all(runs.map((r) => r())) : await sequential(runs);
    assert.equal(
      handled.reduce((a, b) => a + b, 0),
      1,
      'exactly one dispatcher handled the event',
    );
    const deliveries = await store.db.selectFrom('notification_deliveries').select(['endpoint_id', 'state']).execute();
    assert.deepEqual(deliveries.map((d) => d.endpoint_id).sort(), [ids.readyOnly, ids.teamAll].sort());
    assert.ok(deliveries.every((d) => d.state === 'pending'));
    const event = await store.db.selectFrom('notification_events').selectAll().executeTakeFirstOrThrow();
    assert.equal(event.type, 'deployment.ready');
    assert.equal(event.team_id, 'ta');
    assert.equal(JSON.parse(event.data).deployment.id, 'dpa');
  });

  it('two dispatchers claiming at once each get other deliveries; a lost lease cannot record; an expired lease is due again', async () => {
    await store.db.deleteFrom('notification_deliveries').execute();
    for (let i = 0; i < 12; i++) await store.tx((db) => recordDeploymentEvent(db, 'deployment.building', 'dpa2'));
    while ((await fanOut(store)) > 0);
    // each building event goes to the team-wide endpoint and pa2's own: 24 deliveries
    const claimed = (await Promise.all([claimDue(store, 8, 60_000), claimDue(other, 8, 60_000), claimDue(store, 8, 60_000), claimDue(other, 8, 60_000)])).flat();
    const claimedIds = claimed.map((c) => c.delivery.id);
    assert.equal(claimedIds.length, 24);
    assert.equal(new Set(claimedIds).size, 24, 'no delivery claimed twice');
    assert.deepEqual(await claimDue(store, 8, 60_000), [], 'all are held');

    // a dispatcher that stalled past its lease: the delivery goes to another, and the stalled one's record is refused
    await store.db.deleteFrom('notification_deliveries').execute();
    await store.tx((db) => recordDeploymentEvent(db, 'deployment.failed', 'dpa'));
    while ((await fanOut(store)) > 0);
    const [first] = (await claimDue(store, 10, 1)).filter((c) => c.endpoint.id === ids.failedOnly);
    assert.ok(first !== undefined);
    await new Promise((r) => setTimeout(r, 30));
    const [second] = (await claimDue(other, 10, 60_000)).filter((c) => c.endpoint.id === ids.failedOnly);
    assert.equal(second?.delivery.id, first.delivery.id);
    assert.equal(second?.delivery.attempts, 2);
    assert.equal(await recordAttempt(store, first, { ok: true, status: 200, durationMs: 5 }, undefined), false);
    assert.equal(await recordAttempt(other, second!, { ok: false, status: 503, durationMs: 7, response: 'try later' }, Date.now() + 60_000), true);
    const row = await store.db.selectFrom('notification_deliveries').selectAll().where('id', '=', first.delivery.id).executeTakeFirstOrThrow();
    assert.equal(row.state, 'retrying');
    assert.equal(Number(row.last_status), 503);
    const attempts = await store.db.selectFrom('notification_attempts').selectAll().where('delivery_id', '=', first.delivery.id).execute();
    assert.deepEqual(
      attempts.map((a) => [Number(a.attempt), Number(a.status), a.response]),
      [[2, 503, 'try later']],
    );
    assert.deepEqual(
      (await claimDue(store, 10, 60_000)).filter((c) => c.delivery.id === first.delivery.id),
      [],
      'not due before its retry time',
    );

    // a re-send is a new delivery of the same event, due now
    const again = await store.tx((db) => resendDelivery(db, row));
    assert.equal(again.resend_of, row.id);
    const due = (await claimDue(other, 10, 60_000)).find((c) => c.delivery.id === again.id);
    assert.equal(due?.event.id, row.event_id);
  });

  it("a domain's certificate: issued when it turns active, failing at each failed order", async () => {
    await store.db
      .insertInto('domains')
      .values({ name: 'shop.example.com', project_id: 'pa', environment: 'production', status: 'pending-certificate', check_failures: 0, created_at: now, updated_at: now } as never)
      .execute();
    await markFailed(store.db, 'shop.example.com', 'The CA could not reach http://shop.example.com/.well-known/acme-challenge/...', Date.now() + 60_000, 1);
    await markActive(store.db, 'shop.example.com');
    const events = await store.db.selectFrom('notification_events').selectAll().where('type', 'like', 'certificate.%').orderBy('type').execute();
    assert.deepEqual(
      events.map((e) => [e.type, e.project_id, e.team_id, JSON.parse(e.data).domain.status]),
      [
        ['certificate.failing', 'pa', 'ta', 'error'],
        ['certificate.issued', 'pa', 'ta', 'active'],
      ],
    );
    assert.match(JSON.parse(events[0]!.data).domain.detail, /could not reach/);
  });
});
