import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { ADMIN, startApi, type ApiFixture } from '../auth/fixture.js';
import { runCli } from '../cli/run-cli.js';

// `slipway notifications ...` as a script runs it, against the api over a real socket.

let api: ApiFixture;
let url: string;
let token: string;

before(async () => {
  api = await startApi();
  await api.app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}`;
  assert.equal((await api.call('POST', '/api/v1/teams', { auth: ADMIN, body: { slug: 'acme' } })).status, 201);
  token = (await api.person('olga@example.com', 'acme', 'owner')).token;
  assert.equal((await api.call('POST', '/api/v1/projects', { auth: token, body: { name: 'site', repoUrl: 'file:///nowhere', team: 'acme' } })).status, 201);
});
after(() => api?.close());

const cli = (...args: string[]) => runCli(['notifications', ...args, '--url', url, '--token', token], { timeoutMs: 30_000 });

test('add prints the signing secret once; ls, deliveries, rm and mail-address work as a script uses them', async () => {
  const added = await cli('add', '--webhook', 'https://ci.example.com/hook', '--events', 'deployment.ready,deployment.failed', '--project', 'site');
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /Added webhook ne[a-z0-9]+ to site: deployment\.ready, deployment\.failed/);
  assert.match(added.stdout, /Signing secret \(shown once, keep it with the receiver\): whsec_/);

  const listed = await cli('ls', '--project', 'site', '--json');
  assert.equal(listed.code, 0, listed.stderr);
  const [endpoint] = JSON.parse(listed.stdout).notifications;
  assert.equal(endpoint.url, 'https://ci.example.com/hook');
  assert.equal(listed.stdout.includes('whsec_'), false);

  const deliveries = await cli('deliveries', '--project', 'site');
  assert.equal(deliveries.code, 0, deliveries.stderr);
  assert.match(deliveries.stdout, /No deliveries yet\./);
  const missing = await cli('resend', 'dlvnosuchthing00', '--project', 'site', '--json');
  assert.equal(missing.code, 3, 'not found');
  assert.equal(JSON.parse(missing.stderr).error.code, 'NOTIFICATION_NOT_FOUND');

  const mail = await cli('mail-address', '--rotate', '--project', 'site');
  assert.equal(mail.code, 0, mail.stderr);
  assert.match(mail.stdout, /Mail commands for site to: deploy\+site\.[a-z0-9]{20}@localhost/);

  const removed = await cli('rm', endpoint.id, '--project', 'site');
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal((await api.call('GET', '/api/v1/projects/site/notifications', { auth: token })).body.notifications.length, 0);
  const usage = await cli('add', '--project', 'site');
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /Give one of --webhook URL, --slack URL or --email/);
});
