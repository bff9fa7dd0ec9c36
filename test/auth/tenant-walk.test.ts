import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { after, before, test } from 'node:test';
import { registeredRoutes, requireAccessDeclarations, type RouteEntry } from '../../src/api/guard.js';
import { ADMIN, dumpDatabase, startApi, type Answer, type ApiFixture } from './fixture.js';

// The tenant walk: every route the api registered (taken from the router, so a new route is
// walked without anyone listing it), called by a member of another team and by a viewer of the
// resource's own team. The other team gets the resource's 404 and changes nothing; the viewer
// can read and changes nothing.

let api: ApiFixture;
let victim: { id: string; token: string };
let viewer: { id: string; token: string };
let eve: { id: string; token: string };
let deploymentId: string;
let victimTokenId: string;

const PROJECT = 'site';
const DOMAIN = 'www.acme.test';
const ENV_KEY = 'SECRET_KEY';
const ENVIRONMENT = 'staging';

before(async () => {
  api = await startApi();
  assert.equal((await api.call('POST', '/api/v1/teams', { auth: ADMIN, body: { slug: 'acme' } })).status, 201);
  victim = await api.person('vic@example.com', 'acme', 'owner');
  viewer = await api.person('view@example.com', 'acme', 'viewer');
  eve = await api.person('eve@example.com');
  assert.equal((await api.call('POST', '/api/v1/teams', { auth: eve.token, body: { slug: 'other' } })).status, 201);
  assert.equal((await api.call('POST', '/api/v1/projects', { auth: eve.token, body: { name: 'eves', repoUrl: 'file:///nowhere' } })).status, 201);

  const site = await api.call('POST', '/api/v1/projects', { auth: victim.token, body: { name: PROJECT, repoUrl: 'file:///nowhere', team: 'acme' } });
  assert.equal(site.status, 201);
  assert.equal(site.body.team, 'acme');
  assert.equal((await api.call('PUT', `/api/v1/projects/${PROJECT}/env/${ENV_KEY}`, { auth: victim.token, body: { value: 'hunter2' } })).status, 201);
  assert.equal((await api.call('POST', `/api/v1/projects/${PROJECT}/environments`, { auth: victim.token, body: { name: ENVIRONMENT, branch: 'develop' } })).status, 201);
  deploymentId = 'dwalk0000001';
  const now = Date.now();
  await api.store.db
    .insertInto('deployments')
    .values({
      id: deploymentId,
      project_id: site.body.id,
      seq: 1,
      status: 'ready',
      target: 'production',
      trigger: 'api',
      branch: 'main',
      commit_sha: 'a'.repeat(40),
      attempts: 0,
      created_at: now,
    } as never)
    .execute();
  await api.store.db
    .insertInto('domains')
    .values({ name: DOMAIN, project_id: site.body.id, environment: 'production', status: 'pending-dns', check_failures: 0, created_at: now, updated_at: now } as never)
    .execute();
  const tok = await api.call('POST', '/api/v1/tokens', { auth: victim.token, body: { name: 'vic ci', project: PROJECT } });
  assert.equal(tok.status, 201);
  victimTokenId = tok.body.id;
  assert.equal((await api.call('POST', '/api/v1/teams/acme/invitations', { auth: victim.token, body: { role: 'member' } })).status, 201);
});
after(() => api?.close());

/** The route's URL with its parameters naming the victim team's resources. */
function fill(route: RouteEntry): string {
  const values: Record<string, string> = { project: PROJECT, name: DOMAIN, key: ENV_KEY, environment: ENVIRONMENT, team: 'acme', userId: victim.id, token: 'not-a-link-anyone-gave-you' };
  return route.url.replace(/:(\w+)/g, (_, param: string) => (param === 'id' ? (route.url.startsWith('/api/v1/tokens') ? victimTokenId : deploymentId) : (values[param] ?? `unknown-${param}`)));
}

/** A body naming the victim's things, for every route that takes one. */
const BODY = {
  name: 'stolen',
  repoUrl: 'file:///nowhere',
  ref: 'main',
  value: 'v',
  email: 'vic@example.com',
  role: 'owner',
  slug: 'acme',
  team: 'acme',
  project: PROJECT,
  password: 'a long enough password',
  provider: 'github',
};

interface Expect {
  url?: string;
  body?: unknown;
  status: number;
  code?: string;
  check?: (a: Answer) => void;
}

const notAbout = (a: Answer) => {
  const text = JSON.stringify(a.body);
  for (const secret of ['acme', PROJECT, 'vic@example.com', victimTokenId]) assert.equal(text.includes(`"${secret}"`), false, `answer mentions ${secret}: ${text}`);
};

/**
 * Routes that name no team resource in their path answer from the caller's own things: what each
 * must answer to the other team's member and to the viewer. A route missing here fails the walk.
 */
const SELF: Record<string, { other: Expect; viewer: Expect }> = {
  'GET /healthz': { other: { status: 200 }, viewer: { status: 200 } },
  // the process's own readiness (the store answers), nothing of any team's
  'GET /readyz': { other: { status: 200 }, viewer: { status: 200 } },
  // the same document for everybody, made from the routes only
  'GET /api/v1/openapi.json': { other: { status: 200 }, viewer: { status: 200 } },
  // Prometheus' own token, not a person's (metrics are off in this fixture: no --metrics-token)
  'GET /metrics': { other: { status: 404 }, viewer: { status: 404 } },
  // the dashboard's files (built by `npm install`): the same app for everybody, no data in it
  'GET /': { other: { status: 200 }, viewer: { status: 200 } },
  'GET /*': { other: { url: '/p/site', status: 200, check: notAbout }, viewer: { url: '/p/site', status: 200 } },
  'POST /hooks/github/:project': { other: { status: 401, code: 'BAD_SIGNATURE' }, viewer: { status: 401, code: 'BAD_SIGNATURE' } },
  'POST /hooks/gitlab/:project': { other: { status: 401, code: 'BAD_SIGNATURE' }, viewer: { status: 401, code: 'BAD_SIGNATURE' } },
  'POST /hooks/gitea/:project': { other: { status: 401, code: 'BAD_SIGNATURE' }, viewer: { status: 401, code: 'BAD_SIGNATURE' } },
  'POST /api/v1/auth/login': {
    other: { body: { email: 'vic@example.com', password: 'not the password' }, status: 401 },
    viewer: { body: { email: 'vic@example.com', password: 'not the password' }, status: 401 },
  },
  'POST /api/v1/auth/logout': { other: { status: 400 }, viewer: { status: 400 } },
  'POST /api/v1/auth/logout-everywhere': { other: { status: 200 }, viewer: { status: 200 } },
  'GET /api/v1/me': { other: { status: 200, check: notAbout }, viewer: { status: 200 } },
  'GET /api/v1/users': { other: { status: 403 }, viewer: { status: 403 } },
  // garbage collection spans every project: the installation admin's alone
  'POST /api/v1/gc': { other: { status: 403, code: 'FORBIDDEN' }, viewer: { status: 403, code: 'FORBIDDEN' } },
  'GET /api/v1/gc': { other: { status: 403, code: 'FORBIDDEN' }, viewer: { status: 403, code: 'FORBIDDEN' } },
  'POST /api/v1/users': { other: { status: 403 }, viewer: { status: 403 } },
  'GET /api/v1/teams': { other: { status: 200, check: notAbout }, viewer: { status: 200 } },
  // slugs are global names (like project names): taken is all it says
  'POST /api/v1/teams': { other: { status: 409 }, viewer: { status: 409 } },
  'GET /api/v1/projects': { other: { url: '/api/v1/projects?team=acme', status: 404, code: 'TEAM_NOT_FOUND' }, viewer: { url: '/api/v1/projects?team=acme', status: 200 } },
  'POST /api/v1/projects': { other: { status: 404, code: 'TEAM_NOT_FOUND' }, viewer: { status: 403, code: 'FORBIDDEN' } },
  'GET /api/v1/tokens': { other: { status: 200, check: notAbout }, viewer: { status: 200, check: notAbout } },
  'POST /api/v1/tokens': { other: { status: 404, code: 'PROJECT_NOT_FOUND' }, viewer: { status: 403, code: 'FORBIDDEN' } },
  'DELETE /api/v1/tokens/:id': { other: { status: 404, code: 'TOKEN_NOT_FOUND' }, viewer: { status: 404, code: 'TOKEN_NOT_FOUND' } },
  // the link is the credential; a wrong one is not found for anybody
  'GET /api/v1/invitations/:token': { other: { status: 404, code: 'INVITATION_NOT_FOUND' }, viewer: { status: 404, code: 'INVITATION_NOT_FOUND' } },
  'POST /api/v1/invitations/:token/accept': { other: { status: 404, code: 'INVITATION_NOT_FOUND' }, viewer: { status: 404, code: 'INVITATION_NOT_FOUND' } },
};

const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
// what a read may touch: when a token was last used, when a session was last seen, login attempts
const IGNORE = { tables: ['login_attempts'], columns: ['tokens.last_used_at', 'sessions.last_seen_at'] };

function walked(): RouteEntry[] {
  const routes = registeredRoutes(api.app).filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS');
  assert.ok(routes.length >= 35, `only ${routes.length} routes found in the router`);
  return routes;
}

async function walk(who: 'other' | 'viewer', token: string): Promise<number> {
  let count = 0;
  for (const route of walked()) {
    const key = `${route.method} ${route.url}`;
    const resource = 'project' in route.access || 'deployment' in route.access || 'team' in route.access;
    const self = SELF[key]?.[who];
    if (!resource && self === undefined) assert.fail(`${key} names no team resource and has no expectation in the walk's SELF table: add one`);
    const url = self?.url ?? fill(route);
    const body = CHANGES.has(route.method) ? (self?.body ?? BODY) : undefined;
    const before = await dumpDatabase(api.store, IGNORE);
    const res = await api.call(route.method, url, { auth: token, ...(body === undefined ? {} : { body }) });
    const what = `${who}: ${route.method} ${url} -> ${res.status} ${JSON.stringify(res.body)}`;
    if (self !== undefined) {
      assert.equal(res.status, self.status, what);
      if (self.code !== undefined) assert.equal(res.body?.error?.code, self.code, what);
      self.check?.(res);
    } else if (who === 'other') {
      assert.equal(res.status, 404, what);
      assert.match(res.body.error.code, /^(PROJECT|DEPLOYMENT|TEAM)_NOT_FOUND$/, what);
    } else if (CHANGES.has(route.method) || ('role' in route.access && route.access.role !== 'viewer')) {
      // a change, or a read that needs more than a viewer (a variable's values)
      assert.equal(res.status, 403, what);
      assert.equal(res.body.error.code, 'FORBIDDEN', what);
    } else {
      assert.equal(res.status, 200, what);
    }
    assert.equal(await dumpDatabase(api.store, IGNORE), before, `${what} changed the database`);
    count += 1;
  }
  return count;
}

test("another team's member gets 404 from every route that names a resource, and changes nothing", async () => {
  const count = await walk('other', eve.token);
  assert.ok(count >= 35);
  // and sees its own things
  const mine = await api.call('GET', '/api/v1/projects', { auth: eve.token });
  assert.deepEqual(
    mine.body.projects.map((p: any) => p.name),
    ['eves'],
  );
});

test('a viewer reads everything of the team and can change nothing', async () => {
  await walk('viewer', viewer.token);
  const env = await api.call('GET', `/api/v1/projects/${PROJECT}/env`, { auth: viewer.token });
  assert.equal(JSON.stringify(env.body).includes('hunter2'), false, 'a secret value is never shown');
});

test('a deploy token reads and deploys its own project only', async () => {
  const made = await api.call('POST', '/api/v1/tokens', { auth: victim.token, body: { name: 'ci', project: PROJECT } });
  const ci = made.body.token as string;
  assert.match(ci, /^slp_dpl_/);
  assert.equal((await api.call('GET', `/api/v1/projects/${PROJECT}`, { auth: ci })).status, 200);
  assert.equal((await api.call('GET', `/api/v1/deployments/${deploymentId}`, { auth: ci })).status, 200);
  const queued = 'dwalkqueued1';
  const project = await api.store.db.selectFrom('projects').select('id').where('name', '=', PROJECT).executeTakeFirstOrThrow();
  await api.store.db
    .insertInto('deployments')
    .values({
      id: queued,
      project_id: project.id,
      seq: 2,
      status: 'queued',
      target: 'production',
      trigger: 'api',
      branch: 'main',
      commit_sha: 'b'.repeat(40),
      attempts: 0,
      created_at: Date.now(),
    } as never)
    .execute();
  const canceled = await api.call('POST', `/api/v1/deployments/${queued}/cancel`, { auth: ci });
  assert.equal(canceled.status, 200);
  assert.equal(canceled.body.status, 'canceled');
  assert.equal((await api.call('PUT', `/api/v1/projects/${PROJECT}/env/X`, { auth: ci, body: { value: '1' } })).status, 403);
  assert.equal((await api.call('GET', '/api/v1/projects/eves', { auth: ci })).status, 404);
  assert.equal((await api.call('GET', '/api/v1/teams/acme/members', { auth: ci })).status, 404);
  assert.deepEqual(
    (await api.call('GET', '/api/v1/projects', { auth: ci })).body.projects.map((p: any) => p.name),
    [PROJECT],
  );
  // the cancel is in the trail, by the token
  const trail = await api.call('GET', '/api/v1/teams/acme/audit', { auth: viewer.token });
  const cancel = trail.body.events.find((e: any) => e.action === 'deployment.cancel');
  assert.deepEqual(cancel.actor, { type: 'token', id: made.body.id });
  assert.equal(cancel.target, queued);
});

test('a route registered without an access declaration stops the api from starting', async () => {
  const app = Fastify();
  requireAccessDeclarations(app);
  app.get('/declared', { config: { access: { public: true } } }, async () => 'ok');
  assert.throws(() => app.get('/forgotten', async () => 'oops'), /GET \/forgotten declares no access/);
  await app.ready();
  assert.deepEqual(
    registeredRoutes(app).map((r) => `${r.method} ${r.url}`),
    ['GET /declared', 'HEAD /declared'],
  );
  await app.close();
});
