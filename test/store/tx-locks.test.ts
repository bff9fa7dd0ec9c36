import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Store } from '../../src/store/index.js';
import { type OpenedStore, postgresBackend } from '../helpers/backends.js';
import { postgresSkip } from '../helpers/postgres.js';

// Store.tx on PostgreSQL: transactions that read, decide and write must not overlap when they
// decide on the same rows, but builds of different projects should commit side by side. Two
// stores on one database stand for two machines.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run a transaction that holds its locks for `holdMs`; resolves with when it started and ended its body. */
async function hold(store: Store, holdMs: number, scope?: string): Promise<{ start: number; end: number }> {
  return store.tx(
    async () => {
      const start = Date.now();
      await sleep(holdMs);
      return { start, end: Date.now() };
    },
    scope === undefined ? {} : { scope },
  );
}

const overlap = (a: { start: number; end: number }, b: { start: number; end: number }) => a.start < b.end && b.start < a.end;

describe('Store.tx locks on PostgreSQL', { skip: postgresSkip }, () => {
  let opened: OpenedStore;
  let other: Store;
  before(async () => {
    opened = await postgresBackend.open();
    other = await opened.another();
  });
  after(async () => opened?.cleanup());

  test('transactions scoped to different projects run at the same time', async () => {
    const [a, b] = await Promise.all([hold(opened.store, 300, 'project-a'), hold(other, 300, 'project-b')]);
    assert.ok(overlap(a, b), `bodies ran ${a.start}-${a.end} and ${b.start}-${b.end}: they waited for each other`);
  });

  test('transactions scoped to one project run one at a time', async () => {
    const [a, b] = await Promise.all([hold(opened.store, 200, 'project-a'), hold(other, 200, 'project-a')]);
    assert.ok(!overlap(a, b), 'two transactions of one project overlapped');
  });

  test('an unscoped transaction excludes scoped ones, and they exclude it', async () => {
    const [a, b, c] = await Promise.all([hold(opened.store, 200), hold(other, 200, 'project-a'), hold(other, 200, 'project-b')]);
    assert.ok(!overlap(a, b) && !overlap(a, c), 'an installation-wide transaction overlapped a project-scoped one');
  });

  test('a failed scoped transaction releases its locks (nothing is held after a rollback)', async () => {
    await assert.rejects(
      opened.store.tx(
        async () => {
          throw new Error('boom');
        },
        { scope: 'project-a' },
      ),
      /boom/,
    );
    const started = Date.now();
    await other.tx(async () => undefined);
    assert.ok(Date.now() - started < 5000, 'the next transaction waited on a lock the failed one kept');
  });
});
