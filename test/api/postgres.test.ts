import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN, startApi, type ApiFixture } from '../auth/fixture.js';
import { postgresBackend } from '../helpers/backends.js';
import { postgresSkip } from '../helpers/postgres.js';

// The api as `slipway up` builds it, on a real PostgreSQL: people, teams, projects, variables
// and the audit trail, through the same routes and queries as on SQLite.
describe('the api on PostgreSQL', { skip: postgresSkip }, () => {
  let api: ApiFixture;
  let owner: { id: string; token: string; password: string };
  before(async () => {
    api = await startApi({ backend: postgresBackend });
    owner = await api.person('owner@example.com');
    assert.equal((await api.call('POST', '/api/v1/teams', { auth: owner.token, body: { slug: 'studio', name: 'The Studio' } })).status, 201);
  });
  after(() => api?.close());

  test('create a project, list it, refuse its name twice, update its settings', async () => {
    assert.equal(api.store.dialect, 'postgres');
    const made = await api.call('POST', '/api/v1/projects', { auth: owner.token, body: { name: 'shop', repoUrl: 'file:///nowhere', buildCommand: 'npm run build' } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.team, 'studio');
    // a bigint column read back as a string would make an Invalid Date here
    assert.ok(Math.abs(Date.parse(made.body.createdAt) - Date.now()) < 60_000, made.body.createdAt);
    const again = await api.call('POST', '/api/v1/projects', { auth: ADMIN, body: { name: 'shop', repoUrl: 'file:///nowhere' } });
    assert.equal(again.status, 409);
    assert.equal((await api.call('POST', '/api/v1/projects', { auth: ADMIN, body: { name: 'legacy', repoUrl: 'file:///nowhere' } })).status, 201);
    const mine = await api.call('GET', '/api/v1/projects', { auth: owner.token });
    assert.deepEqual(
      mine.body.projects.map((p: any) => p.name),
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
    const patched = await api.call('PATCH', '/api/v1/projects/shop', { auth: owner.token, body: { buildTimeoutSeconds: 120 } });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal((await api.call('GET', '/api/v1/projects/shop', { auth: owner.token })).body.buildTimeoutSeconds, 120);
  });

  test('a variable set twice is updated in place (upsert), and the audit trail records both', async () => {
    assert.equal((await api.call('PUT', '/api/v1/projects/shop/env/API_URL', { auth: owner.token, body: { value: 'https://one.example' } })).status, 201);
    assert.equal((await api.call('PUT', '/api/v1/projects/shop/env/API_URL', { auth: owner.token, body: { value: 'https://two.example' } })).status, 200);
    const env = await api.call('GET', '/api/v1/projects/shop/env', { auth: owner.token });
    assert.equal(env.body.env.length, 1);
    const trail = await api.call('GET', '/api/v1/teams/studio/audit', { auth: owner.token });
    assert.equal(trail.status, 200, JSON.stringify(trail.body));
    const sets = trail.body.events.filter((e: any) => e.action === 'env.set');
    assert.equal(sets.length, 2);
  });
});
