import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { runAsLeader, type Leadership } from '../../src/store/leader.js';
import { freshPostgres, postgresSkip } from '../helpers/postgres.js';
import { waitFor } from '../helpers/slipway.js';

// Work that must run in one process of an installation at a time (certificate orders) is led
// by whoever holds a lock in PostgreSQL; when the leader goes away, another process takes over.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Work that counts how many copies of it run at once, and the most that ever did. */
function counted() {
  const state = { running: 0, most: 0, starts: 0 };
  const start = () => {
    state.running += 1;
    state.starts += 1;
    state.most = Math.max(state.most, state.running);
    return {
      close: async () => {
        state.running -= 1;
      },
    };
  };
  return { state, start };
}

test('on SQLite (one machine) the process leads at once', async () => {
  const work = counted();
  const leadership = runAsLeader({ databaseUrl: undefined, name: 'certificates' }, work.start);
  assert.equal(leadership.leading(), true);
  await leadership.stop();
  assert.equal(work.state.running, 0);
});

describe('leaders on PostgreSQL', { skip: postgresSkip }, () => {
  let database: { url: string; drop: () => Promise<void> };
  const leaderships: Leadership[] = [];
  before(async () => {
    database = await freshPostgres();
  });
  after(async () => {
    for (const l of leaderships) await l.stop();
    await database?.drop();
  });

  test('of three processes one leads; when it stops, another takes over', async () => {
    const work = counted();
    for (let i = 0; i < 3; i++) leaderships.push(runAsLeader({ databaseUrl: database.url, name: 'certificates', retryMs: 100 }, work.start));
    await waitFor('a leader', async () => (work.state.running === 1 ? true : undefined), 10_000);
    await sleep(500);
    assert.equal(leaderships.filter((l) => l.leading()).length, 1, 'exactly one process leads');
    const leader = leaderships.find((l) => l.leading())!;
    await leader.stop();
    leaderships.splice(leaderships.indexOf(leader), 1);
    await waitFor('another leader', async () => (leaderships.some((l) => l.leading()) ? true : undefined), 10_000);
    assert.equal(work.state.most, 1, 'never two leaders at once');
    assert.equal(work.state.starts, 2);
  });

  test('a leader whose database connection is cut stops its work; the lead is taken again', async () => {
    const work = counted();
    const mine = [runAsLeader({ databaseUrl: database.url, name: 'other-work', retryMs: 100 }, work.start), runAsLeader({ databaseUrl: database.url, name: 'other-work', retryMs: 100 }, work.start)];
    leaderships.push(...mine);
    await waitFor('a leader', async () => (work.state.running === 1 ? true : undefined), 10_000);
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      await admin.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'slipway-leader-other-work' and pid <> pg_backend_pid()");
    } finally {
      await admin.end();
    }
    await waitFor('the work to run again after the cut', async () => (work.state.starts === 2 && work.state.running === 1 ? true : undefined), 10_000);
    assert.equal(work.state.most, 1, 'never two leaders at once');
  });
});
