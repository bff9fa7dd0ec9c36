import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN, sessionCookieOf, startApi, type ApiFixture } from './fixture.js';

let api: ApiFixture;
let owner: { id: string; token: string; password: string };
let bob: { id: string; token: string; password: string };

before(async () => {
  api = await startApi();
  owner = await api.person('owner@example.com');
  assert.equal((await api.call('POST', '/api/v1/teams', { auth: owner.token, body: { slug: 'studio', name: 'The Studio' } })).status, 201);
});
after(() => api?.close());

test('the admin creates in team "default" by default, a person in their only team', async () => {
  const made = await api.call('POST', '/api/v1/projects', { auth: ADMIN, body: { name: 'legacy', repoUrl: 'file:///nowhere' } });
  assert.equal(made.status, 201);
  assert.equal(made.body.team, 'default');
  // a person in one team creates there without naming it
  const own = await api.call('POST', '/api/v1/projects', { auth: owner.token, body: { name: 'shop', repoUrl: 'file:///nowhere' } });
  assert.equal(own.status, 201);
  assert.equal(own.body.team, 'studio');
  assert.deepEqual(
    (await api.call('GET', '/api/v1/projects', { auth: owner.token })).body.projects.map((p: any) => p.name),
    ['shop'],
  );
  const all = await api.call('GET', '/api/v1/projects', { auth: ADMIN });
  assert.deepEqual(
    all.body.projects.map((p: any) => [p.name, p.team]),
    [
      ['legacy', 'default'],
      ['shop', 'studio'],
    ],
  );
});

test('a person in several teams must say which one', async () => {
  assert.equal((await api.call('POST', '/api/v1/teams', { auth: owner.token, body: { slug: 'second' } })).status, 201);
  const which = await api.call('POST', '/api/v1/projects', { auth: owner.token, body: { name: 'where', repoUrl: 'file:///nowhere' } });
  assert.equal(which.status, 400);
  assert.match(which.body.error.hint, /second, studio/);
  const named = await api.call('POST', '/api/v1/projects', { auth: owner.token, body: { name: 'where', repoUrl: 'file:///nowhere', team: 'second' } });
  assert.equal(named.body.team, 'second');
});

test('members: add, change role, remove; the last owner stays; a removed member loses access at once', async () => {
  bob = await api.person('bob@example.com');
  assert.equal((await api.call('GET', '/api/v1/projects/shop', { auth: bob.token })).status, 404);
  const add = await api.call('POST', '/api/v1/teams/studio/members', { auth: owner.token, body: { email: 'BOB@example.com', role: 'viewer' } });
  assert.equal(add.status, 201);
  assert.equal(add.body.role, 'viewer');
  assert.equal((await api.call('GET', '/api/v1/projects/shop', { auth: bob.token })).status, 200);
  const denied = await api.call('PATCH', '/api/v1/projects/shop', { auth: bob.token, body: { buildCommand: 'x' } });
  assert.equal(denied.status, 403);
  assert.equal(denied.body.error.code, 'FORBIDDEN');
  assert.equal((await api.call('PATCH', `/api/v1/teams/studio/members/${bob.id}`, { auth: owner.token, body: { role: 'member' } })).status, 200);
  assert.equal((await api.call('PATCH', '/api/v1/projects/shop', { auth: bob.token, body: { buildCommand: 'npm run build' } })).status, 200);
  // a member cannot manage members
  assert.equal((await api.call('POST', '/api/v1/teams/studio/members', { auth: bob.token, body: { email: 'owner@example.com', role: 'viewer' } })).status, 403);
  const last = await api.call('PATCH', `/api/v1/teams/studio/members/${owner.id}`, { auth: owner.token, body: { role: 'member' } });
  assert.equal(last.status, 409);
  assert.equal(last.body.error.code, 'LAST_OWNER');
  assert.equal((await api.call('DELETE', `/api/v1/teams/studio/members/${owner.id}`, { auth: owner.token })).status, 409);
  const unknown = await api.call('POST', '/api/v1/teams/studio/members', { auth: owner.token, body: { email: 'nobody@example.com', role: 'viewer' } });
  assert.equal(unknown.body.error.code, 'USER_NOT_FOUND');
  assert.equal((await api.call('DELETE', `/api/v1/teams/studio/members/${bob.id}`, { auth: owner.token })).status, 204);
  assert.equal((await api.call('GET', '/api/v1/projects/shop', { auth: bob.token })).status, 404);
  const members = await api.call('GET', '/api/v1/teams/studio/members', { auth: owner.token });
  assert.deepEqual(
    members.body.members.map((m: any) => [m.email, m.role]),
    [['owner@example.com', 'owner']],
  );
});

test('an invitation link makes a new account a member once, and expires', async () => {
  const inv = await api.call('POST', '/api/v1/teams/studio/invitations', { auth: owner.token, body: { role: 'viewer' } });
  assert.equal(inv.status, 201);
  assert.equal(inv.body.url, `http://localhost:3999/invite/${inv.body.token}`);
  assert.ok(Date.parse(inv.body.expiresAt) - Date.now() > 6.9 * 86_400_000);
  const shown = await api.call('GET', `/api/v1/invitations/${inv.body.token}`);
  assert.deepEqual(shown.body.team, { slug: 'studio', name: 'The Studio' });
  const accept = await api.call('POST', `/api/v1/invitations/${inv.body.token}/accept`, { body: { email: 'carol@example.com', password: 'carol has a long password' } });
  assert.equal(accept.status, 201);
  assert.deepEqual(accept.body.team, { slug: 'studio', name: 'The Studio', role: 'viewer' });
  const again = await api.call('POST', `/api/v1/invitations/${inv.body.token}/accept`, { body: { email: 'dave@example.com', password: 'dave has a long password' } });
  assert.equal(again.status, 404);
  assert.equal(again.body.error.code, 'INVITATION_NOT_FOUND');
  assert.equal((await api.call('POST', '/api/v1/auth/login', { body: { email: 'dave@example.com', password: 'dave has a long password' } })).status, 401, 'no account was made');
  const carol = await api.login('carol@example.com', 'carol has a long password');
  assert.deepEqual((await api.call('GET', '/api/v1/me', { auth: { cookie: carol.cookie } })).body.teams, [{ slug: 'studio', name: 'The Studio', role: 'viewer' }]);

  // an existing person accepts while logged in (bob was removed above); the link is for their address only
  const forBob = await api.call('POST', '/api/v1/teams/studio/invitations', { auth: owner.token, body: { role: 'member', email: 'bob@example.com' } });
  const wrongPerson = await api.call('POST', `/api/v1/invitations/${forBob.body.token}/accept`, { auth: { cookie: carol.cookie, csrf: carol.csrf! } });
  assert.equal(wrongPerson.status, 403);
  const bobAccepts = await api.call('POST', `/api/v1/invitations/${forBob.body.token}/accept`, { auth: bob.token });
  assert.equal(bobAccepts.status, 201);
  assert.equal((await api.call('GET', '/api/v1/projects/shop', { auth: bob.token })).status, 200);
  // an expired link is refused
  const late = await api.call('POST', '/api/v1/teams/studio/invitations', { auth: owner.token, body: { role: 'viewer' } });
  await api.store.db
    .updateTable('invitations')
    .set({ expires_at: Date.now() - 1 })
    .where('accepted_at', 'is', null)
    .execute();
  assert.equal((await api.call('GET', `/api/v1/invitations/${late.body.token}`)).status, 404);
});

test('the audit trail records who changed what, values never, newest first, by cursor', async () => {
  const ci = await api.call('POST', '/api/v1/tokens', { auth: owner.token, body: { name: 'ci', project: 'shop' } });
  assert.equal((await api.call('DELETE', `/api/v1/tokens/${ci.body.id}`, { auth: owner.token })).status, 204);
  assert.equal((await api.call('PUT', '/api/v1/projects/shop/env/API_KEY', { auth: owner.token, body: { value: 'sekrit-value' } })).status, 201);
  assert.equal((await api.call('DELETE', '/api/v1/projects/shop/env/API_KEY', { auth: owner.token })).status, 204);
  const res = await api.call('GET', '/api/v1/teams/studio/audit?limit=3', { auth: owner.token });
  assert.equal(res.status, 200);
  assert.deepEqual(
    res.body.events.map((e: any) => [e.action, e.target]),
    [
      ['env.remove', 'API_KEY'],
      ['env.set', 'API_KEY'],
      ['token.revoke', 'ci'],
    ],
  );
  assert.deepEqual(res.body.events[0].actor, { type: 'user', id: owner.id, email: 'owner@example.com' });
  assert.ok(res.body.nextCursor !== null);
  const all = [];
  let cursor: string | null = null;
  do {
    const page: any = await api.call('GET', `/api/v1/teams/studio/audit?limit=4${cursor === null ? '' : `&cursor=${cursor}`}`, { auth: owner.token });
    all.push(...page.body.events);
    cursor = page.body.nextCursor;
  } while (cursor !== null);
  const actions = all.map((e: any) => e.action);
  for (const a of ['member.add', 'member.update', 'member.remove', 'token.create', 'token.revoke', 'project.create', 'project.update', 'invitation.create', 'auth.login'])
    assert.ok(actions.includes(a), `${a} in ${actions.join(',')}`);
  assert.equal(JSON.stringify(all).includes('sekrit-value'), false);
  // another team's trail is not this team's business
  const other = await api.person('mallory@example.com');
  assert.equal((await api.call('GET', '/api/v1/teams/studio/audit', { auth: other.token })).status, 404);
  // a login via the admin token shows up as the admin
  const admin = await api.call('POST', '/api/v1/auth/login', { body: { token: ADMIN } });
  assert.ok(sessionCookieOf(admin).startsWith('slipway_session='));
});

test('deleting a team: refused while it has projects, then it goes with its members and tokens', async () => {
  assert.equal((await api.call('POST', '/api/v1/teams', { auth: owner.token, body: { slug: 'closing' } })).status, 201);
  assert.equal((await api.call('POST', '/api/v1/projects', { auth: owner.token, body: { name: 'last-site', repoUrl: 'file:///nowhere', team: 'closing' } })).status, 201);
  const dora = await api.person('dora@example.com');
  assert.equal((await api.call('POST', '/api/v1/teams/closing/members', { auth: owner.token, body: { email: 'dora@example.com', role: 'member' } })).status, 201);
  // a member may not delete it; someone outside the team does not learn it exists
  assert.equal((await api.call('DELETE', '/api/v1/teams/closing', { auth: dora.token })).status, 403);
  assert.equal((await api.call('DELETE', '/api/v1/teams/closing', { auth: bob.token })).status, 404);
  const full = await api.call('DELETE', '/api/v1/teams/closing', { auth: owner.token });
  assert.equal(full.status, 409);
  assert.equal(full.body.error.code, 'TEAM_NOT_EMPTY');
  assert.match(full.body.error.message, /last-site/);
  assert.equal((await api.call('DELETE', '/api/v1/projects/last-site', { auth: owner.token })).status, 204);
  assert.equal((await api.call('DELETE', '/api/v1/teams/closing', { auth: owner.token })).status, 204);
  const teams = (await api.call('GET', '/api/v1/teams', { auth: dora.token })).body.teams;
  assert.deepEqual(teams, []);
  assert.equal((await api.call('GET', '/api/v1/teams/closing/members', { auth: owner.token })).status, 404);
  // the other teams are untouched
  assert.equal((await api.call('GET', '/api/v1/projects/shop', { auth: owner.token })).status, 200);
});
