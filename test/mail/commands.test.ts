import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import nodemailer from 'nodemailer';
import { loadConfig, type Config } from '../../src/config/index.js';
import { Events } from '../../src/events.js';
import { createMailer, type Mailer } from '../../src/mail/index.js';
import { startMailListener, type MailListener } from '../../src/mail/listener.js';
import { parseCommand } from '../../src/mail/commands.js';
import { answerFinishedMailDeploys } from '../../src/mail/outcomes.js';
import { Queue } from '../../src/queue/index.js';
import { ADMIN, startApi, type ApiFixture } from '../auth/fixture.js';
import { makeRepo } from '../helpers/git.js';
import { tempDir } from '../helpers/paths.js';
import { startSmtpSink, type SmtpSink } from './smtp-sink.js';

// Deploy commands by email, end to end through the real SMTP listener: mail goes in over SMTP
// (nodemailer to smtp-server), the answer comes back out through --smtp-url to a second real
// SMTP server, parsed with mailparser.

// the api's and the listener's mail domain: the base domain, as nothing else was given
let api: ApiFixture;
let sink: SmtpSink;
let listener: MailListener;
let mailer: Mailer | undefined;
let dir: Awaited<ReturnType<typeof tempDir>>;
let address: string;
let developSha: string;
let projectId: string;
let config: Config;

before(async () => {
  api = await startApi();
  sink = await startSmtpSink();
  dir = await tempDir('slipway-mailcmd-');
  const repo = await makeRepo(join(dir.path, 'repo'));
  await repo.commit({ 'index.html': '<h1>main</h1>' }, 'first');
  await repo.push();
  await repo.checkout('develop', true);
  developSha = await repo.commit({ 'index.html': '<h1>develop</h1>' }, 'on develop');
  await repo.push('develop');

  assert.equal((await api.call('POST', '/api/v1/teams', { auth: ADMIN, body: { slug: 'acme' } })).status, 201);
  const owner = await api.person('olga@example.com', 'acme', 'owner');
  await api.person('mia@example.com', 'acme', 'member');
  await api.person('eve@example.com');
  const made = await api.call('POST', '/api/v1/projects', { auth: owner.token, body: { name: 'site', repoUrl: repo.url, team: 'acme' } });
  assert.equal(made.status, 201);
  projectId = made.body.id;
  assert.equal((await api.call('POST', '/api/v1/projects/site/environments', { auth: owner.token, body: { name: 'staging', branch: 'develop' } })).status, 201);

  config = loadConfig({ 'data-dir': dir.path, 'smtp-url': sink.url, 'smtp-listen': '127.0.0.1:0', 'public-url': 'https://deploy.example.com' }, {});
  mailer = createMailer(config.mail);
  listener = await startMailListener({ store: api.store, queue: new Queue(api.store, { leaseMs: 30_000 }), box: api.box, config, events: new Events(), mailer }, config.mail.listen!);

  const answer = await api.call('POST', '/api/v1/projects/site/mail-address', { auth: owner.token });
  assert.equal(answer.status, 201);
  address = answer.body.address;
  assert.match(address, /^deploy\+site\.[a-z0-9]{20}@localhost$/);
  // only its hash is kept, and it is shown once
  assert.equal(JSON.stringify(await api.store.db.selectFrom('project_mail_addresses').selectAll().execute()).includes(address.split('.')[1]!.split('@')[0]!), false);
  assert.deepEqual((await api.call('GET', '/api/v1/projects/site/mail-address', { auth: owner.token })).body.address, null);
});
after(async () => {
  await listener?.close();
  mailer?.close();
  await sink?.close();
  await api?.close();
  await dir?.cleanup();
});

/** Send a message into the listener over SMTP, as a relay would; resolves once it was handled. */
async function send(mail: { from: string; to: string; subject: string; text?: string; headers?: Record<string, string> }): Promise<void> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: listener.port, secure: false, ignoreTLS: true });
  try {
    await transport.sendMail({ text: '', ...mail });
  } finally {
    transport.close();
  }
  await listener.idle();
}

const AUTH_PASS = { 'Authentication-Results': 'mx.example.com; spf=pass smtp.mailfrom=example.com; dkim=pass header.d=example.com' };

test('a member mails "deploy staging": the head of staging\'s branch is queued for staging, and the answer carries the deployment and its URL', async () => {
  await send({ from: 'Mia <mia@example.com>', to: address, subject: 'deploy staging', headers: AUTH_PASS });
  const answer = await sink.waitFor((m) => (m.to as { text: string }).text === 'mia@example.com');
  assert.equal(answer.subject, 'Re: deploy staging');
  const d = await api.store.db.selectFrom('deployments').selectAll().where('project_id', '=', projectId).executeTakeFirstOrThrow();
  assert.equal(d.environment, 'staging');
  assert.equal(d.branch, 'develop');
  assert.equal(d.commit_sha, developSha);
  assert.equal(d.status, 'queued');
  assert.match(answer.text ?? '', new RegExp(`deployment ${d.id} is queued`));
  assert.ok(answer.text?.includes(`It will be at: http://${d.id}--site.localhost:8080`), answer.text);
  assert.ok(answer.text?.includes(`Follow the build: https://deploy.example.com/p/site/d/${d.id}`), answer.text);
  assert.ok(answer.inReplyTo !== undefined, 'threaded under the command');
  const record = await api.store.db.selectFrom('inbound_mail').selectAll().executeTakeFirstOrThrow();
  assert.deepEqual([record.sender, record.command, record.outcome, record.spf, record.dkim, record.deployment_id], ['mia@example.com', 'deploy staging', 'deployed', 'pass', 'pass', d.id]);
  // in the audit trail as Mia's, by email; and its outbox event for notifications
  const trail = await api.call('GET', '/api/v1/teams/acme/audit', { auth: ADMIN });
  const entry = trail.body.events.find((e: any) => e.action === 'deployment.create' && e.target === d.id);
  assert.equal(entry.actor.email, 'mia@example.com');
  assert.equal(entry.details.via, 'email');
  assert.ok(await api.store.db.selectFrom('notification_events').select('id').where('deployment_id', '=', d.id).where('type', '=', 'deployment.created').executeTakeFirst());

  // when the build finishes, the outcome follows (once, however many workers look)
  assert.equal(await answerFinishedMailDeploys(api.store, config, mailer!), 0, 'nothing before it finished');
  await api.store.db.updateTable('deployments').set({ status: 'ready' }).where('id', '=', d.id).execute();
  const sent = await Promise.all([answerFinishedMailDeploys(api.store, config, mailer!), answerFinishedMailDeploys(api.store, config, mailer!)]);
  assert.equal(sent[0]! + sent[1]!, 1);
  const outcome = await sink.waitFor((m) => m.subject === `site: deployment ${d.id} is ready`);
  assert.ok(outcome.text?.includes(`Site: http://${d.id}--site.localhost:8080`), outcome.text);
  await api.store.db.updateTable('deployments').set({ status: 'queued' }).where('id', '=', d.id).execute();
});

test('a stranger, a wrong token, a failed SPF check: the SMTP answer is the same, nothing is deployed, and no mail comes back', async () => {
  const before = sink.messages.length;
  const deployments = async () => (await api.store.db.selectFrom('deployments').select('id').execute()).length;
  const count = await deployments();
  const wrongToken = address.replace(/\.[a-z0-9]{20}@/, '.aaaaaaaaaaaaaaaaaaaa@');
  await send({ from: 'eve@example.com', to: address, subject: 'deploy staging', headers: AUTH_PASS });
  await send({ from: 'mia@example.com', to: wrongToken, subject: 'deploy staging' });
  await send({ from: 'mia@example.com', to: 'deploy+nosuchproject.aaaaaaaaaaaaaaaaaaaa@localhost', subject: 'status' });
  await send({ from: 'mia@example.com', to: address, subject: 'deploy staging', headers: { 'Authentication-Results': 'mx.example.com; spf=fail smtp.mailfrom=example.com; dkim=none' } });
  // the listener is no open relay
  await assert.rejects(send({ from: 'mia@example.com', to: 'someone@elsewhere.example', subject: 'status' }), /550|Relay/i);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(sink.messages.length, before, `answers went out: ${sink.messages.slice(before).map((m) => m.subject)}`);
  assert.equal(await deployments(), count);
  const records = await api.store.db.selectFrom('inbound_mail').select(['sender', 'outcome', 'spf']).where('outcome', 'not in', ['deployed', 'deployed-answered']).orderBy('received_at').execute();
  // a rotated address: the old one opens nothing any more
  const rotated = await api.call('POST', '/api/v1/projects/site/mail-address', { auth: ADMIN });
  assert.notEqual(rotated.body.address, address);
  await send({ from: 'mia@example.com', to: address, subject: 'status' });
  assert.equal(sink.messages.length, before, 'the old address answers nothing');
  address = rotated.body.address;

  // the owner sees who wrote, with what the relay said
  const recent = (await api.call('GET', '/api/v1/projects/site/mail-address', { auth: ADMIN })).body.recent;
  assert.deepEqual(
    recent.slice(0, 2).map((m: any) => [m.sender, m.outcome, m.spf, m.dkim]),
    [
      ['mia@example.com', 'unauthenticated', 'fail', 'none'],
      ['eve@example.com', 'stranger', 'pass', 'pass'],
    ],
  );
  // the two that reached the project's real address are on its record; a wrong address names no project
  assert.deepEqual(
    records.map((r) => [r.sender, r.outcome, r.spf]),
    [
      ['eve@example.com', 'stranger', 'pass'],
      ['mia@example.com', 'unauthenticated', 'fail'],
    ],
  );
});

test('anything but a command gets the short help; "status" answers what production serves', async () => {
  await send({ from: 'mia@example.com', to: address, subject: 'hello there', text: 'could you please put the new version up?\n\nthanks' });
  const help = await sink.waitFor((m) => m.subject === 'Re: hello there');
  assert.match(help.text ?? '', /"hello there" is not a command I know/);
  for (const command of ['deploy staging', 'deploy production', 'show preview', 'status', 'rollback']) assert.ok(help.text?.includes(`  ${command}`), `help names ${command}`);
  assert.equal(help.text?.includes('deploy+site'), false);

  // the command may stand on the body's first line when the subject is something else
  await send({ from: 'mia@example.com', to: address, subject: 'Re: your build', text: 'Status\n> quoted older mail' });
  const status = await sink.waitFor((m) => m.subject === 'Re: your build');
  assert.match(status.text ?? '', /site has no production deployment yet/);
  assert.match(status.text ?? '', /queued\s+staging \(develop\)/);
});

test('"deploy production" where production requires approval: queued, and the answer says it will wait; a viewer may not deploy', async () => {
  assert.equal((await api.call('PATCH', '/api/v1/projects/site/environments/production', { auth: ADMIN, body: { requiresApproval: true } })).status, 200);
  await send({ from: 'mia@example.com', to: address, subject: 'deploy production' });
  const answer = await sink.waitFor((m) => m.subject === 'Re: deploy production');
  const id = /deployment (d[a-z0-9]+) is queued/.exec(answer.text ?? '')?.[1];
  assert.ok(id !== undefined, answer.text);
  assert.match(answer.text ?? '', new RegExp(`It waits for approval before production serves it: slipway approve ${id}`));
  const d = await api.store.db.selectFrom('deployments').select(['environment', 'branch']).where('id', '=', id).executeTakeFirstOrThrow();
  assert.deepEqual(d, { environment: 'production', branch: 'main' });

  await api.person('vic@example.com', 'acme', 'viewer');
  await send({ from: 'vic@example.com', to: address, subject: 'rollback' });
  const refused = await sink.waitFor((m) => (m.to as { text: string }).text === 'vic@example.com');
  assert.match(refused.text ?? '', /needs the member role/);
});

test('commands are read from the subject or the first line, whatever the case and reply prefixes', () => {
  assert.deepEqual(parseCommand('Re: Fwd: Deploy  Production', ''), { verb: 'deploy', environment: 'production' });
  assert.deepEqual(parseCommand('', '\n\n  show preview \n-- \nsig'), { verb: 'show-preview' });
  assert.deepEqual(parseCommand('ROLLBACK', ''), { verb: 'rollback' });
  assert.equal(parseCommand('deploy', '').verb, 'help');
  assert.equal(parseCommand('deploy staging now please', '').verb, 'help');
  assert.equal(parseCommand('deploy ../../etc', '').verb, 'help');
});
