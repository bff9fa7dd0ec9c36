import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { Events } from '../../src/events.js';
import { createMailer, type Mailer } from '../../src/mail/index.js';
import { recordDeploymentEvent, startNotificationDispatcher, verifySignature, type Dispatcher } from '../../src/notify/index.js';
import { ADMIN, startApi, type ApiFixture } from '../auth/fixture.js';
import { tempDir } from '../helpers/paths.js';
import { eventually, startSmtpSink, type SmtpSink } from '../mail/smtp-sink.js';

// Notifications end to end in one process: the api adds the endpoints, real code paths write
// the outbox, the dispatcher sends to real receivers over sockets (a webhook receiver that
// checks the signature and fails the first two tries, a Slack-format receiver, an SMTP
// server), and the deliveries API shows every attempt and re-sends.

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}

async function receiver(answer: (r: Omit<Received, 'answered'>, seen: number) => number): Promise<{ server: Server; url: string; got: Received[] }> {
  const got: Received[] = [];
  const tries = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      const key = String(req.headers['slipway-delivery'] ?? r.body);
      const seen = (tries.get(key) ?? 0) + 1;
      tries.set(key, seen);
      const status = answer(r, seen);
      got.push({ ...r, answered: status });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'thanks' : `not now (try ${seen})`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got };
}

let api: ApiFixture;
let smtp: SmtpSink;
let dispatcher: Dispatcher;
let mailer: Mailer | undefined;
let dir: Awaited<ReturnType<typeof tempDir>>;
let hook: Awaited<ReturnType<typeof receiver>>;
let chat: Awaited<ReturnType<typeof receiver>>;
let owner: { id: string; token: string };
let member: { id: string; token: string };
let viewer: { id: string; token: string };
let eve: { id: string; token: string };
let secret: string;
let projectId: string;
const bad: string[] = [];

before(async () => {
  api = await startApi();
  smtp = await startSmtpSink();
  dir = await tempDir('slipway-notify-');
  hook = await receiver((r, seen) => {
    if (!verifySignature(secret, r.body, String(r.headers['slipway-signature']))) {
      bad.push(r.body);
      return 400;
    }
    return seen <= 2 ? 500 : 200;
  });
  chat = await receiver(() => 200);
  assert.equal((await api.call('POST', '/api/v1/teams', { auth: ADMIN, body: { slug: 'acme' } })).status, 201);
  owner = await api.person('owner@example.com', 'acme', 'owner');
  member = await api.person('mia@example.com', 'acme', 'member');
  viewer = await api.person('vera@example.com', 'acme', 'viewer');
  eve = await api.person('eve@example.com');
  assert.equal((await api.call('POST', '/api/v1/teams', { auth: eve.token, body: { slug: 'other' } })).status, 201);
  const made = await api.call('POST', '/api/v1/projects', { auth: owner.token, body: { name: 'site', repoUrl: 'file:///nowhere', team: 'acme' } });
  assert.equal(made.status, 201);
  projectId = made.body.id;
  const config = loadConfig({ 'data-dir': dir.path, 'smtp-url': smtp.url, 'smtp-from': 'Slipway <slipway@example.com>', 'public-url': 'https://deploy.example.com', 'notify-allow': '127.0.0.1' }, {});
  mailer = createMailer(config.mail);
  dispatcher = startNotificationDispatcher({
    store: api.store,
    config,
    box: api.box,
    events: new Events(),
    mailer,
    backoff: { baseMs: 40, capMs: 200, giveUpMs: 60_000 },
    pollMs: 20,
  });
});
after(async () => {
  await dispatcher?.stop();
  // the pooled connections end first: the SMTP server's close waits for its clients
  mailer?.close();
  await smtp?.close();
  hook?.server.close();
  chat?.server.close();
  await api?.close();
  await dir?.cleanup();
});

async function insertDeployment(id: string, fields: Record<string, unknown> = {}): Promise<void> {
  await api.store.db
    .insertInto('deployments')
    .values({
      id,
      project_id: projectId,
      seq: Date.now() % 1_000_000,
      status: 'ready',
      target: 'production',
      environment: 'production',
      trigger: 'api',
      branch: 'main',
      commit_sha: 'c'.repeat(40),
      attempts: 0,
      created_at: Date.now(),
      ...fields,
    } as never)
    .execute();
}

test('endpoints: a webhook gets a signing secret shown once; a Slack URL is shown without its secret path; email is per person and project', async () => {
  const added = await api.call('POST', '/api/v1/projects/site/notifications', {
    auth: member.token,
    body: { kind: 'webhook', url: `${hook.url}/slipway?key=abc`, events: ['deployment.failed', 'deployment.promoted'] },
  });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  secret = added.body.signingSecret;
  assert.match(secret, /^whsec_[A-Za-z0-9_-]{43}$/);
  assert.equal(added.body.url, `${hook.url}/slipway?…`);
  const slack = await api.call('POST', '/api/v1/teams/acme/notifications', { auth: owner.token, body: { kind: 'slack', url: `${chat.url}/services/T000/B000/XXXXSECRET` } });
  assert.equal(slack.status, 201, JSON.stringify(slack.body));
  assert.equal(slack.body.signingSecret, undefined);
  assert.equal(slack.body.scope, 'team');
  // a member may not change the team's endpoints; a viewer nothing
  assert.equal((await api.call('POST', '/api/v1/teams/acme/notifications', { auth: member.token, body: { kind: 'slack', url: chat.url } })).status, 403);
  assert.equal((await api.call('POST', '/api/v1/projects/site/notifications', { auth: viewer.token, body: { kind: 'email' } })).status, 403);
  const mail = await api.call('POST', '/api/v1/projects/site/notifications', { auth: member.token, body: { kind: 'email' } });
  assert.equal(mail.status, 201, JSON.stringify(mail.body));
  assert.deepEqual(mail.body.events, ['deployment.ready', 'deployment.failed', 'deployment.awaiting_approval']);
  assert.equal((await api.call('POST', '/api/v1/projects/site/notifications', { auth: member.token, body: { kind: 'email' } })).status, 409);
  const wrong = await api.call('POST', '/api/v1/projects/site/notifications', { auth: member.token, body: { kind: 'webhook', url: 'ftp://example.com', events: ['deployment.exploded'] } });
  assert.equal(wrong.status, 400);
  assert.equal(wrong.body.error.code, 'VALIDATION');
  assert.ok(wrong.body.error.hint);

  const list = await api.call('GET', '/api/v1/projects/site/notifications', { auth: viewer.token });
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.notifications.map((n: any) => n.kind).sort(), ['email', 'slack', 'webhook']);
  const text = JSON.stringify(list.body);
  assert.equal(text.includes('whsec_'), false, 'the secret is never shown again');
  assert.equal(text.includes('XXXXSECRET'), false, "a Slack URL's secret path is never shown");
  assert.equal(list.body.notifications.find((n: any) => n.kind === 'email').email, 'mia@example.com');
  // at rest the URL and the secret are ciphertext
  const rows = JSON.stringify(await api.store.db.selectFrom('notification_endpoints').selectAll().execute());
  assert.equal(rows.includes(secret), false);
  assert.equal(rows.includes('XXXXSECRET'), false);
});

test('a failed deployment: the webhook verifies the signature and succeeds on the third try; chat and mail get it too; every attempt is recorded', async () => {
  await insertDeployment('dfail0000001', { status: 'failed', error_code: 'BUILD_FAILED', error_phase: 'build', error_message: 'npm run build exited with code 1' });
  await api.store.tx((db) => recordDeploymentEvent(db, 'deployment.failed', 'dfail0000001'));

  const delivered = await eventually(async () => hook.got.find((r) => r.answered === 200), 'the third webhook try');
  const tries = hook.got.filter((r) => r.headers['slipway-delivery'] === delivered.headers['slipway-delivery']);
  assert.deepEqual(
    tries.map((r) => r.answered),
    [500, 500, 200],
  );
  assert.deepEqual(bad, [], 'every try carried a valid signature');
  const body = JSON.parse(delivered.body);
  assert.equal(body.type, 'deployment.failed');
  assert.equal(delivered.headers['slipway-event'], 'deployment.failed');
  assert.equal(body.team, 'acme');
  assert.equal(body.project.name, 'site');
  assert.equal(body.deployment.id, 'dfail0000001');
  assert.deepEqual(body.deployment.error, { code: 'BUILD_FAILED', phase: 'build', message: 'npm run build exited with code 1' });
  assert.equal(body.deployment.inspectUrl, 'https://deploy.example.com/p/site/d/dfail0000001');
  // each try is signed afresh; the same event id on all of them lets a receiver drop duplicates
  assert.equal(new Set(tries.map((r) => JSON.parse(r.body).id)).size, 1);
  // the signature covers the timestamp and the body: changed, or replayed later, it fails
  assert.equal(verifySignature(secret, delivered.body.replace('failed', 'ready'), String(delivered.headers['slipway-signature'])), false);
  assert.equal(verifySignature(secret, delivered.body, String(delivered.headers['slipway-signature']), Math.floor(Date.now() / 1000) + 3600), false);

  const message = await eventually(async () => chat.got.find((r) => JSON.parse(r.body).text.includes('dfail0000001')), 'the chat message');
  const { text } = JSON.parse(message.body);
  assert.match(text, /site: deployment dfail0000001 \(production, main\) failed/);
  assert.match(text, /<https:\/\/deploy\.example\.com\/p\/site\/d\/dfail0000001\|details>/);
  assert.match(text, /npm run build exited with code 1/);

  const mail = await smtp.waitFor((m) => m.subject?.includes('dfail0000001') === true);
  assert.equal(mail.subject, '[Slipway] site: deployment dfail0000001 (production, main) failed');
  assert.equal((mail.to as { text: string }).text, 'mia@example.com');
  assert.equal((mail.from as { value: Array<{ address: string }> }).value[0]?.address, 'slipway@example.com');
  assert.match(mail.text ?? '', /Error: BUILD_FAILED: npm run build exited with code 1/);
  assert.match(mail.text ?? '', /Build log and details: https:\/\/deploy\.example\.com\/p\/site\/d\/dfail0000001/);
  assert.match(String(mail.html), /<a href="https:\/\/deploy\.example\.com\/p\/site\/d\/dfail0000001">Build log and details<\/a>/);

  const listed = await eventually(async () => {
    const res = await api.call('GET', '/api/v1/projects/site/notifications/deliveries', { auth: viewer.token });
    const d = res.body.deliveries.find((x: any) => x.id === delivered.headers['slipway-delivery']);
    return d?.state === 'delivered' ? d : undefined;
  }, 'the delivery record');
  assert.equal(listed.event, 'deployment.failed');
  assert.deepEqual(
    listed.attempts.map((a: any) => [a.attempt, a.status, a.ok]),
    [
      [1, 500, false],
      [2, 500, false],
      [3, 200, true],
    ],
  );
  assert.equal(listed.attempts[0].response, 'not now (try 1)');
  assert.equal(listed.attempts[2].response, 'thanks');
  assert.ok(listed.attempts.every((a: any) => typeof a.durationMs === 'number'));
  assert.equal(listed.nextAttemptAt, null);
  // the chat and mail deliveries are listed too (the team's endpoint shows in the project's list)
  const all = await eventually(async () => {
    const res = await api.call('GET', '/api/v1/projects/site/notifications/deliveries', { auth: viewer.token });
    return res.body.deliveries.every((d: any) => d.state === 'delivered') ? res.body.deliveries : undefined;
  }, 'every delivery recorded');
  assert.deepEqual(
    all.map((d: any) => d.event),
    ['deployment.failed', 'deployment.failed', 'deployment.failed'],
  );
});

test('promote through the API announces it; a re-send delivers the same event again as a new delivery', async () => {
  await insertDeployment('dprom0000001', { seq: 999_999_999, manifest_hash: 'f'.repeat(64) });
  const promoted = await api.call('POST', '/api/v1/deployments/dprom0000001/promote', { auth: member.token });
  assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
  const first = await eventually(async () => hook.got.find((r) => r.answered === 200 && JSON.parse(r.body).type === 'deployment.promoted'), 'the promoted webhook');
  const body = JSON.parse(first.body);
  assert.equal(body.deployment.alias, 'production');
  assert.equal(
    smtp.messages.some((m) => m.subject?.includes('dprom0000001')),
    false,
    'promotions are not mailed',
  );

  const deliveryId = String(first.headers['slipway-delivery']);
  const resent = await api.call('POST', `/api/v1/projects/site/notifications/deliveries/${deliveryId}/resend`, { auth: member.token });
  assert.equal(resent.status, 202, JSON.stringify(resent.body));
  assert.equal(resent.body.resendOf, deliveryId);
  assert.equal(resent.body.state, 'pending');
  const again = await eventually(async () => hook.got.find((r) => r.answered === 200 && r.headers['slipway-delivery'] === resent.body.id), 'the re-sent delivery');
  assert.equal(JSON.parse(again.body).id, body.id, 'the same event');
  const trail = await api.call('GET', '/api/v1/teams/acme/audit', { auth: owner.token });
  assert.ok(trail.body.events.some((e: any) => e.action === 'notification.resend' && e.target === resent.body.id));
});

test("another team can neither list nor re-send a team's deliveries, nor remove its endpoints; a viewer cannot re-send", async () => {
  const all = (await api.call('GET', '/api/v1/projects/site/notifications/deliveries', { auth: owner.token })).body.deliveries;
  const id = all[0].id;
  const endpoints = (await api.call('GET', '/api/v1/projects/site/notifications', { auth: owner.token })).body.notifications;
  const list = await api.call('GET', '/api/v1/projects/site/notifications/deliveries', { auth: eve.token });
  assert.equal(list.status, 404);
  assert.equal(list.body.error.code, 'PROJECT_NOT_FOUND');
  assert.equal((await api.call('POST', `/api/v1/projects/site/notifications/deliveries/${id}/resend`, { auth: eve.token })).status, 404);
  // through her own team's routes, naming acme's ids
  const own = await api.call('POST', `/api/v1/teams/other/notifications/deliveries/${id}/resend`, { auth: eve.token });
  assert.equal(own.status, 404);
  assert.equal(own.body.error.code, 'NOTIFICATION_NOT_FOUND');
  assert.deepEqual((await api.call('GET', '/api/v1/teams/other/notifications/deliveries', { auth: eve.token })).body.deliveries, []);
  for (const e of endpoints) {
    const rm = await api.call('DELETE', `/api/v1/teams/other/notifications/${e.id}`, { auth: eve.token });
    assert.equal(rm.status, 404);
  }
  assert.equal((await api.call('POST', `/api/v1/projects/site/notifications/deliveries/${id}/resend`, { auth: viewer.token })).status, 403);
  assert.equal((await api.call('GET', '/api/v1/projects/site/notifications', { auth: owner.token })).body.notifications.length, endpoints.length);
  // a project's list may not remove the team's endpoint; the team's owner may
  const team = endpoints.find((e: any) => e.scope === 'team');
  assert.equal((await api.call('DELETE', `/api/v1/projects/site/notifications/${team.id}`, { auth: owner.token })).status, 404);
  assert.equal((await api.call('DELETE', `/api/v1/teams/acme/notifications/${team.id}`, { auth: owner.token })).status, 204);
});

test('a webhook to a private or metadata address is refused at once (the operator may allow one), never sent', async () => {
  const added = await api.call('POST', '/api/v1/projects/site/notifications', {
    auth: member.token,
    body: { kind: 'webhook', url: 'http://169.254.169.254/latest/meta-data/', events: ['deployment.ready'] },
  });
  assert.equal(added.status, 201);
  await insertDeployment('dmeta0000001');
  await api.store.tx((db) => recordDeploymentEvent(db, 'deployment.ready', 'dmeta0000001'));
  const refused = await eventually(async () => {
    const res = await api.call('GET', `/api/v1/projects/site/notifications/deliveries?endpoint=${added.body.id}`, { auth: owner.token });
    return res.body.deliveries.find((d: any) => d.state === 'failed');
  }, 'the refused delivery');
  assert.equal(refused.attempts.length, 1);
  assert.equal(refused.attempts[0].status, null);
  assert.match(refused.attempts[0].error, /169\.254\.169\.254 is not a public address; the operator may allow it with --notify-allow/);
});
