import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LOGIN_LIMITS } from '../../src/auth/index.js';
import { ADMIN, sessionCookieOf, startApi, type ApiFixture } from './fixture.js';

let api: ApiFixture;
let ada: { id: string; token: string; password: string };

before(async () => {
  api = await startApi();
  ada = await api.person('Ada@Example.com', 'default', 'owner');
});
after(() => api?.close());

test('login sets an httpOnly SameSite=Lax session cookie and answers the user and a CSRF token', async () => {
  const res = await api.call('POST', '/api/v1/auth/login', { body: { email: 'ADA@example.com', password: ada.password } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.user, { id: ada.id, email: 'ada@example.com', name: null });
  assert.match(res.body.csrfToken, /^[A-Za-z0-9_-]{43}$/);
  const cookie = String(res.headers['set-cookie']);
  assert.match(cookie, /^slipway_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=2592000$/, 'no Secure over plain http');
  // the store keeps only a hash of the id
  const id = cookie.split(';')[0]!.split('=')[1]!;
  const rows = await api.store.db.selectFrom('sessions').selectAll().execute();
  assert.equal(JSON.stringify(rows).includes(id), false);

  const me = await api.call('GET', '/api/v1/me', { auth: { cookie: sessionCookieOf(res) } });
  assert.equal(me.status, 200);
  assert.equal(me.body.admin, false);
  assert.deepEqual(me.body.teams, [{ slug: 'default', name: 'Default', role: 'owner' }]);
  assert.equal(me.body.csrfToken, res.body.csrfToken);
});

test('the cookie is Secure when the api is reached over https', async () => {
  const secure = await startApi({ publicUrl: 'https://deploy.example.com' });
  try {
    const made = await secure.call('POST', '/api/v1/users', { auth: ADMIN, body: { email: 'b@example.com', password: 'long enough password' } });
    assert.equal(made.status, 201);
    const res = await secure.call('POST', '/api/v1/auth/login', { body: { email: 'b@example.com', password: 'long enough password' } });
    assert.match(String(res.headers['set-cookie']), /; Secure$/);
  } finally {
    await secure.close();
  }
});

test('a wrong password and an unknown email get the same answer', async () => {
  const wrong = await api.call('POST', '/api/v1/auth/login', { body: { email: 'ada@example.com', password: 'not the password' }, ip: '10.0.0.1' });
  const unknown = await api.call('POST', '/api/v1/auth/login', { body: { email: 'nobody@example.com', password: 'not the password' }, ip: '10.0.0.1' });
  assert.equal(wrong.status, 401);
  assert.deepEqual(wrong.body, unknown.body);
  assert.equal(wrong.body.error.code, 'LOGIN_FAILED');
  assert.equal(wrong.body.error.message, 'Wrong email or password.');
  assert.equal(wrong.headers['set-cookie'], undefined);
});

test('an unknown email takes about as long as a wrong password (a dummy hash is checked)', async () => {
  const time = async (email: string, i: number) => {
    const t = performance.now();
    await api.call('POST', '/api/v1/auth/login', { body: { email, password: 'not the password' }, ip: `10.9.0.${i}` });
    return performance.now() - t;
  };
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const known: number[] = [];
  const unknown: number[] = [];
  for (let i = 0; i < 3; i++) {
    known.push(await time('ada@example.com', i));
    unknown.push(await time(`nobody${i}@example.com`, i + 10));
  }
  // without the dummy hash an unknown email would answer in ~1 ms against ~200 ms
  const ratio = median(unknown) / median(known);
  assert.ok(ratio > 0.4 && ratio < 2.5, `unknown ${median(unknown).toFixed(0)} ms vs wrong password ${median(known).toFixed(0)} ms`);
  await api.store.db.deleteFrom('login_attempts').execute();
});

test('a state change with the cookie but without the CSRF header is refused, and changes nothing', async () => {
  const session = await api.login('ada@example.com', ada.password);
  const before = await api.store.db.selectFrom('teams').selectAll().execute();
  const bare = await api.call('POST', '/api/v1/teams', { auth: { cookie: session.cookie }, body: { slug: 'csrf-team' } });
  assert.equal(bare.status, 403);
  assert.equal(bare.body.error.code, 'CSRF');
  const wrong = await api.call('POST', '/api/v1/teams', { auth: { cookie: session.cookie, csrf: 'x'.repeat(43) }, body: { slug: 'csrf-team' } });
  assert.equal(wrong.status, 403);
  assert.deepEqual(await api.store.db.selectFrom('teams').selectAll().execute(), before);
  // reads need no header; with it, the change goes through
  assert.equal((await api.call('GET', '/api/v1/teams', { auth: { cookie: session.cookie } })).status, 200);
  const ok = await api.call('POST', '/api/v1/teams', { auth: session, body: { slug: 'csrf-team' } });
  assert.equal(ok.status, 201);
  // a bearer token needs no CSRF header
  assert.equal((await api.call('POST', '/api/v1/teams', { auth: ada.token, body: { slug: 'bearer-team' } })).status, 201);
});

test('a session ends after 7 idle days and 30 days after login', async () => {
  const idle = await api.login('ada@example.com', ada.password);
  const old = await api.login('ada@example.com', ada.password);
  const sessions = await api.store.db.selectFrom('sessions').select(['id_hash', 'created_at']).orderBy('created_at', 'desc').limit(2).execute();
  assert.equal(sessions.length, 2);
  const day = 86_400_000;
  // which row is which does not matter for the check below: make one idle, the other expired
  await api.store.db
    .updateTable('sessions')
    .set({ last_seen_at: Date.now() - 7 * day - 1000 })
    .where('id_hash', '=', sessions[0]!.id_hash)
    .execute();
  await api.store.db
    .updateTable('sessions')
    .set({ expires_at: Date.now() - 1000 })
    .where('id_hash', '=', sessions[1]!.id_hash)
    .execute();
  for (const s of [idle, old]) {
    const res = await api.call('GET', '/api/v1/me', { auth: { cookie: s.cookie } });
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'UNAUTHORIZED');
  }
  const left = await api.store.db
    .selectFrom('sessions')
    .select('id_hash')
    .where(
      'id_hash',
      'in',
      sessions.map((s) => s.id_hash),
    )
    .execute();
  assert.equal(left.length, 0, 'ended sessions are deleted');
  // 6 idle days is still fine, and the request counts as activity
  const fresh = await api.login('ada@example.com', ada.password);
  const row = (await api.store.db.selectFrom('sessions').select('id_hash').orderBy('created_at', 'desc').limit(1).executeTakeFirstOrThrow()).id_hash;
  await api.store.db
    .updateTable('sessions')
    .set({ last_seen_at: Date.now() - 6 * day })
    .where('id_hash', '=', row)
    .execute();
  assert.equal((await api.call('GET', '/api/v1/me', { auth: { cookie: fresh.cookie } })).status, 200);
  const touched = await api.store.db.selectFrom('sessions').select('last_seen_at').where('id_hash', '=', row).executeTakeFirstOrThrow();
  assert.ok(Date.now() - Number(touched.last_seen_at) < 60_000);
});

test('logout ends this session; logout everywhere ends all of them', async () => {
  const a = await api.login('ada@example.com', ada.password);
  const b = await api.login('ada@example.com', ada.password);
  const out = await api.call('POST', '/api/v1/auth/logout', { auth: a });
  assert.equal(out.status, 204);
  assert.match(String(out.headers['set-cookie']), /^slipway_session=; .*Max-Age=0/);
  assert.equal((await api.call('GET', '/api/v1/me', { auth: { cookie: a.cookie } })).status, 401);
  assert.equal((await api.call('GET', '/api/v1/me', { auth: { cookie: b.cookie } })).status, 200);
  const c = await api.login('ada@example.com', ada.password);
  const all = await api.call('POST', '/api/v1/auth/logout-everywhere', { auth: c });
  assert.equal(all.status, 200);
  assert.ok(all.body.sessionsEnded >= 2);
  for (const s of [b, c]) assert.equal((await api.call('GET', '/api/v1/me', { auth: { cookie: s.cookie } })).status, 401);
  // tokens are not sessions: they keep working
  assert.equal((await api.call('GET', '/api/v1/me', { auth: ada.token })).status, 200);
});

test('a revoked token stops working at once', async () => {
  const made = await api.call('POST', '/api/v1/tokens', { auth: ada.token, body: { name: 'ci' } });
  assert.equal(made.status, 201);
  assert.match(made.body.token, /^slp_pat_/);
  assert.equal((await api.call('GET', '/api/v1/projects', { auth: made.body.token })).status, 200);
  const listed = await api.call('GET', '/api/v1/tokens', { auth: ada.token });
  const entry = listed.body.tokens.find((t: any) => t.id === made.body.id);
  assert.equal(entry.name, 'ci');
  assert.ok(entry.lastUsedAt !== null);
  assert.equal(JSON.stringify(listed.body).includes(made.body.token), false, 'the secret is never listed');
  assert.equal((await api.call('DELETE', `/api/v1/tokens/${made.body.id}`, { auth: ada.token })).status, 204);
  const after = await api.call('GET', '/api/v1/projects', { auth: made.body.token });
  assert.equal(after.status, 401);
  assert.equal(after.body.error.code, 'UNAUTHORIZED');
  // an expired one is refused too
  const soon = await api.call('POST', '/api/v1/tokens', { auth: ada.token, body: { name: 'short', expiresAt: new Date(Date.now() + 60_000).toISOString() } });
  await api.store.db
    .updateTable('tokens')
    .set({ expires_at: Date.now() - 1 })
    .where('id', '=', soon.body.id)
    .execute();
  assert.equal((await api.call('GET', '/api/v1/projects', { auth: soon.body.token })).status, 401);
});

test('the admin token keeps working, and logs in as the installation admin', async () => {
  assert.equal((await api.call('GET', '/api/v1/projects', { auth: ADMIN })).status, 200);
  const res = await api.call('POST', '/api/v1/auth/login', { body: { token: ADMIN } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.user, { id: 'admin', email: null, name: 'Installation admin' });
  const me = await api.call('GET', '/api/v1/me', { auth: { cookie: sessionCookieOf(res) } });
  assert.equal(me.body.admin, true);
  assert.ok(me.body.teams.some((t: any) => t.slug === 'default' && t.role === 'owner'));
  const bad = await api.call('POST', '/api/v1/auth/login', { body: { token: 'slp_pat_nope' } });
  assert.equal(bad.status, 401);
  assert.equal(bad.body.error.code, 'LOGIN_FAILED');
});

test('logins are rate-limited per account and per address, with Retry-After', async () => {
  const max = LOGIN_LIMITS.account.max;
  // failures for one account from many addresses
  for (let i = 0; i < max; i++) {
    const res = await api.call('POST', '/api/v1/auth/login', { body: { email: 'ada@example.com', password: `wrong ${i}` }, ip: `10.1.0.${i}` });
    assert.equal(res.status, 401);
  }
  const limited = await api.call('POST', '/api/v1/auth/login', { body: { email: 'ada@example.com', password: ada.password }, ip: '10.1.1.1' });
  assert.equal(limited.status, 429, 'even the right password waits');
  assert.equal(limited.body.error.code, 'RATE_LIMITED');
  const retry = Number(limited.headers['retry-after']);
  assert.ok(retry > 0 && retry <= LOGIN_LIMITS.account.windowMs / 1000, `Retry-After ${retry}`);
  // an unknown account is limited the same way (so the limit says nothing about who exists)
  for (let i = 0; i < max; i++) await api.call('POST', '/api/v1/auth/login', { body: { email: 'ghost@example.com', password: 'x' }, ip: `10.2.0.${i}` });
  assert.equal((await api.call('POST', '/api/v1/auth/login', { body: { email: 'ghost@example.com', password: 'x' }, ip: '10.2.1.1' })).status, 429);
  // the window slides: once the failures are older than it, the right password works
  await api.store.db
    .updateTable('login_attempts')
    .set({ at: Date.now() - LOGIN_LIMITS.account.windowMs - 1 })
    .where('key', '=', 'account:ada@example.com')
    .execute();
  assert.equal((await api.call('POST', '/api/v1/auth/login', { body: { email: 'ada@example.com', password: ada.password }, ip: '10.1.1.1' })).status, 200);

  // one address trying many accounts
  const ip = '10.3.0.1';
  for (let i = 0; i < LOGIN_LIMITS.address.max; i++) {
    await api.call('POST', '/api/v1/auth/login', { body: { email: `p${i}@example.com`, password: 'x' }, ip });
  }
  const byAddress = await api.call('POST', '/api/v1/auth/login', { body: { email: 'ada@example.com', password: ada.password }, ip });
  assert.equal(byAddress.status, 429);
  assert.equal((await api.call('POST', '/api/v1/auth/login', { body: { email: 'ada@example.com', password: ada.password }, ip: '10.3.0.2' })).status, 200);
});
