import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { Events } from '../../src/events.js';
import { createEndpoint, recordDeploymentEvent, startNotificationDispatcher } from '../../src/notify/index.js';
import { SecretBox } from '../../src/secrets.js';
import { sqliteBackend } from '../helpers/backends.js';
import { eventually } from '../mail/smtp-sink.js';

// A receiver that never answers 2xx: the delivery is retried with growing waits until it is
// older than the give-up time (a day in production), then it is failed and tried no more.

test('a webhook that keeps failing is retried with growing waits, then given up', async () => {
  const opened = await sqliteBackend.open();
  const { store } = opened;
  const at: number[] = [];
  const server = createServer((req, res) => {
    at.push(Date.now());
    req.resume();
    res.writeHead(503).end('down');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const box = new SecretBox(randomBytes(32));
  const now = Date.now();
  await store.db.insertInto('teams').values({ id: 't1', slug: 'acme', name: 'Acme', created_at: now }).execute();
  await store.db
    .insertInto('projects')
    .values({ id: 'p1', name: 'site', repo_url: 'file:///nowhere', production_branch: 'main', webhook_secret: 'x', created_at: now, team_id: 't1' } as never)
    .execute();
  await store.db
    .insertInto('deployments')
    .values({
      id: 'dgiveup00001',
      project_id: 'p1',
      seq: 1,
      status: 'failed',
      target: 'production',
      environment: 'production',
      trigger: 'api',
      branch: 'main',
      commit_sha: 'a'.repeat(40),
      attempts: 1,
      created_at: now,
    } as never)
    .execute();
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  await createEndpoint(store.db, box, { teamId: 't1', projectId: 'p1' }, { kind: 'webhook', url }, { userId: null });
  const config = loadConfig({ 'data-dir': '/tmp/slipway-never-made', 'notify-allow': '127.0.0.1' }, {});
  const dispatcher = startNotificationDispatcher({ store, config, box, events: new Events(), mailer: undefined, backoff: { baseMs: 30, capMs: 120, giveUpMs: 400 }, pollMs: 10 });
  try {
    await store.tx((db) => recordDeploymentEvent(db, 'deployment.failed', 'dgiveup00001'));
    const row = await eventually(async () => {
      const r = await store.db.selectFrom('notification_deliveries').selectAll().executeTakeFirst();
      return r?.state === 'failed' ? r : undefined;
    }, 'the delivery to give up');
    const attempts = await store.db.selectFrom('notification_attempts').selectAll().where('delivery_id', '=', row.id).orderBy('attempt').execute();
    assert.ok(attempts.length >= 3 && attempts.length <= 8, `${attempts.length} attempts`);
    assert.ok(attempts.every((a) => Number(a.status) === 503 && a.response === 'down'));
    // the waits grow from the base (30 ms) to at least twice it; a slow machine only lengthens them
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    assert.ok(gaps[0]! >= 25, `first wait ${gaps[0]} ms`);
    assert.ok(gaps.at(-1)! >= 55, `waits ${gaps.join(', ')} ms`);
    const seen = at.length;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(at.length, seen, 'no try after giving up');
  } finally {
    await dispatcher.stop();
    server.close();
    await opened.cleanup();
  }
});
