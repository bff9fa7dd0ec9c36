import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, test } from 'node:test';
import { ADMIN, startApi, type ApiFixture } from '../auth/fixture.js';

// A team's own git host credentials: owners set them, everyone in the team sees that they are
// set, nobody sees them again, and they are encrypted at rest.

let api: ApiFixture;
let owner: { token: string };
let member: { token: string };
const TOKEN = 'ghp_teamsecret1234567890abcd';

before(async () => {
  api = await startApi();
  assert.equal((await api.call('POST', '/api/v1/teams', { auth: ADMIN, body: { slug: 'acme' } })).status, 201);
  owner = await api.person('own@example.com', 'acme', 'owner');
  member = await api.person('mem@example.com', 'acme', 'member');
});
after(() => api.close());

test('an owner sets a token; it is shown masked and stored encrypted', async () => {
  const put = await api.call('PUT', '/api/v1/teams/acme/git-host', { auth: owner.token, body: { provider: 'github', token: TOKEN, apiUrl: 'https://github.example.com/api/v3/' } });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.deepEqual({ ...put.body, updatedAt: undefined }, { provider: 'github', kind: 'token', apiUrl: 'https://github.example.com/api/v3', token: '…abcd', updatedAt: undefined });
  const got = await api.call('GET', '/api/v1/teams/acme/git-host', { auth: member.token });
  assert.equal(got.status, 200);
  assert.equal(got.body.gitHosts.length, 1);
  assert.ok(!JSON.stringify(got.body).includes(TOKEN.slice(0, 12)));
  const rows = await api.store.db.selectFrom('team_git_hosts').selectAll().execute();
  assert.equal(rows.length, 1);
  assert.ok(!rows[0]!.secret.includes(TOKEN), 'the token is encrypted at rest');
  const audit = await api.call('GET', '/api/v1/teams/acme/audit', { auth: owner.token });
  assert.ok(JSON.stringify(audit.body).includes('git-host.set'));
  assert.ok(!JSON.stringify(audit.body).includes(TOKEN));
});

test('a GitHub App: its key is checked, then kept and never shown', async () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const bad = await api.call('PUT', '/api/v1/teams/acme/git-host', { auth: owner.token, body: { provider: 'github', appId: '42', privateKey: 'not a key' } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'VALIDATION');
  assert.match(bad.body.error.message, /privateKey/);
  const put = await api.call('PUT', '/api/v1/teams/acme/git-host', { auth: owner.token, body: { provider: 'github', appId: 42, privateKey: pem } });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.equal(put.body.kind, 'app');
  assert.equal(put.body.appId, '42');
  assert.ok(!JSON.stringify(put.body).includes('PRIVATE KEY'));
});

test('members cannot change them; bad bodies get a clear error', async () => {
  const denied = await api.call('PUT', '/api/v1/teams/acme/git-host', { auth: member.token, body: { provider: 'gitlab', token: 'glpat-x' } });
  assert.equal(denied.status, 403);
  const bodies: Array<[unknown, RegExp]> = [
    [{ provider: 'bitbucket', token: 'x' }, /provider/],
    [{ provider: 'github' }, /token/],
    [{ provider: 'gitlab', appId: '1', privateKey: 'x' }, /Only GitHub has Apps/],
    [{ provider: 'github', token: 'x', appId: '1' }, /not both/],
    [{ provider: 'github', token: 'x', apiUrl: 'ftp://x' }, /apiUrl/],
    [{ provider: 'github', token: 'x', extra: 1 }, /Unknown field/],
  ];
  for (const [body, message] of bodies) {
    const r = await api.call('PUT', '/api/v1/teams/acme/git-host', { auth: owner.token, body });
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body.error.code, 'VALIDATION');
    assert.match(r.body.error.message, message);
  }
});

test('an owner removes them', async () => {
  const put = await api.call('PUT', '/api/v1/teams/acme/git-host', { auth: owner.token, body: { provider: 'gitlab', token: 'glpat-secret', apiUrl: 'https://gitlab.example.com' } });
  assert.equal(put.status, 200);
  assert.equal((await api.call('DELETE', '/api/v1/teams/acme/git-host/gitlab', { auth: member.token })).status, 403);
  assert.equal((await api.call('DELETE', '/api/v1/teams/acme/git-host/gitlab', { auth: owner.token })).status, 204);
  const again = await api.call('DELETE', '/api/v1/teams/acme/git-host/gitlab', { auth: owner.token });
  assert.equal(again.status, 404);
  const got = await api.call('GET', '/api/v1/teams/acme/git-host', { auth: owner.token });
  assert.deepEqual(
    got.body.gitHosts.map((h: { provider: string }) => h.provider),
    ['github'],
  );
});
