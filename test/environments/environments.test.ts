import assert from 'node:assert/strict';
import Sqlite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { deploymentEnv } from '../../src/deployments/index.js';
import { environmentForBranch, goLivePlan } from '../../src/environments/index.js';
import { createStoreLookup } from '../../src/routing/index.js';
import { migrations } from '../../src/store/migrations/index.js';
import { ADMIN, startApi, type ApiFixture } from '../auth/fixture.js';
import { makeRepo } from '../helpers/git.js';
import { tempDir } from '../helpers/paths.js';

// Environments in-process (app.inject, no worker: deployments stay queued, so what is read of
// them is what creation wrote), with a real git repository for refs.
let api: ApiFixture;
let dir: Awaited<ReturnType<typeof tempDir>>;
let owner: string;
let member: string;
let viewer: string;
let shas: { main: string; develop: string; feature: string };
let projectId: string;

const P = '/api/v1/projects/site';

before(async () => {
  dir = await tempDir();
  const repo = await makeRepo(join(dir.path, 'repo'));
  const main = await repo.commit({ 'index.html': 'main' }, 'main');
  await repo.push();
  await repo.checkout('develop', true);
  const develop = await repo.commit({ 'index.html': 'develop' }, 'develop');
  await repo.push('develop');
  await repo.checkout('feature-x', true);
  const feature = await repo.commit({ 'index.html': 'feature' }, 'feature');
  await repo.push('feature-x');
  shas = { main, develop, feature };
  api = await startApi();
  assert.equal((await api.call('POST', '/api/v1/teams', { auth: ADMIN, body: { slug: 'acme' } })).status, 201);
  owner = (await api.person('o@example.com', 'acme', 'owner')).token;
  member = (await api.person('m@example.com', 'acme', 'member')).token;
  viewer = (await api.person('v@example.com', 'acme', 'viewer')).token;
  const made = await api.call('POST', '/api/v1/projects', { auth: owner, body: { name: 'site', repoUrl: repo.url, team: 'acme' } });
  assert.equal(made.status, 201);
  projectId = made.body.id;
});

after(async () => {
  await api?.close();
  await dir?.cleanup();
});

test('environmentForBranch: production branch, a named environment bound to the branch, else preview', () => {
  const project = { production_branch: 'main' };
  const named = [
    { name: 'staging', branch: 'develop' },
    { name: 'qa', branch: null },
  ];
  assert.equal(environmentForBranch(project, named, 'main'), 'production');
  assert.equal(environmentForBranch(project, named, 'develop'), 'staging');
  assert.equal(environmentForBranch(project, named, 'feature/x'), 'preview');
  assert.equal(environmentForBranch(project, named, null), 'preview', 'a bare sha is a preview');
  assert.equal(environmentForBranch(project, [{ name: 'production', branch: 'develop' }], 'develop'), 'preview', 'a row for production cannot claim another branch');
});

test('production and preview always exist; owners create named ones, viewers read, members cannot change; bad input gets a hint', async () => {
  const list = await api.call('GET', `${P}/environments`, { auth: viewer });
  assert.equal(list.status, 200);
  assert.deepEqual(
    list.body.environments.map((e: any) => [e.name, e.branch, e.requiresApproval, e.autoPromote, e.protection]),
    [
      ['production', 'main', false, true, null],
      ['preview', null, false, true, null],
    ],
  );
  assert.equal((await api.call('POST', `${P}/environments`, { auth: member, body: { name: 'staging' } })).status, 403);
  assert.equal((await api.call('POST', `${P}/environments`, { auth: viewer, body: { name: 'staging' } })).status, 403);
  const made = await api.call('POST', `${P}/environments`, { auth: owner, body: { name: 'staging', branch: 'develop', requiresApproval: true } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.match(made.body.url, /^http:\/\/staging--site\.localhost(:\d+)?$/);
  for (const [method, path, body, status, message] of [
    ['POST', '/environments', { name: 'staging' }, 409, /already has an environment staging/],
    ['POST', '/environments', { name: 'Bad Name' }, 400, /name must be/],
    ['POST', '/environments', { name: 'pr-12' }, 400, /not "pr-<n>"/],
    ['POST', '/environments', { name: 'qa', branch: 'main' }, 400, /production branch/],
    ['POST', '/environments', { name: 'qa', branch: 'develop' }, 409, /already deploys to environment staging/],
    ['POST', '/environments', { name: 'qa', colour: 'red' }, 400, /Unknown field "colour"/],
    ['PATCH', '/environments/preview', { requiresApproval: true }, 400, /Previews cannot require approval/],
    ['PATCH', '/environments/production', { branch: 'x' }, 400, /productionBranch/],
    ['PATCH', '/environments/staging', { approvers: 'everyone' }, 400, /approvers/],
    ['PATCH', '/environments/staging', { protection: { mode: 'password', password: 'short' } }, 400, /8 to 200/],
    ['PATCH', '/environments/nope', { autoPromote: false }, 404, /no environment "nope"/],
    ['DELETE', '/environments/production', undefined, 400, /always exists/],
  ] as const) {
    const res = await api.call(method, `${P}${path}`, { auth: owner, ...(body === undefined ? {} : { body }) });
    assert.equal(res.status, status, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
    assert.match(res.body.error.message, message);
    assert.ok(typeof res.body.error.hint === 'string' && res.body.error.hint.length > 0);
  }
  const schema = await api.call('PATCH', `${P}/environments/staging`, { auth: owner, body: { requiresApproval: 'yes please' } });
  assert.equal(schema.status, 400, 'the route schema refuses a wrong type');
});

test('deploy {ref, environment}: the default is the environment bound to the branch; any ref can go to any environment', async () => {
  const deploy = async (body: unknown, auth = owner) => api.call('POST', `${P}/deployments`, { auth, body });
  const develop = await deploy({ ref: 'develop' });
  assert.equal(develop.status, 202, JSON.stringify(develop.body));
  assert.deepEqual([develop.body.environment, develop.body.target, develop.body.commit.sha], ['staging', 'preview', shas.develop]);
  const main = await deploy({ ref: 'main' });
  assert.deepEqual([main.body.environment, main.body.target], ['production', 'production']);
  const feature = await deploy({ ref: 'feature-x' });
  assert.deepEqual([feature.body.environment, feature.body.target], ['preview', 'preview']);
  const anyRef = await deploy({ ref: shas.feature, environment: 'staging' });
  assert.deepEqual([anyRef.body.environment, anyRef.body.branch], ['staging', null]);
  const toProd = await deploy({ ref: 'feature-x', environment: 'production' });
  assert.deepEqual([toProd.body.environment, toProd.body.target], ['production', 'production']);
  const oldShape = await deploy({ ref: 'develop', target: 'preview' });
  assert.deepEqual([oldShape.body.environment, oldShape.body.target], ['staging', 'preview'], 'target "preview" means "not production"; the branch still picks its environment');
  const mainPreview = await deploy({ ref: 'main', target: 'preview' });
  assert.deepEqual([mainPreview.body.environment, mainPreview.body.target], ['preview', 'preview']);
  const unknown = await deploy({ ref: 'main', environment: 'nope' });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error.code, 'ENVIRONMENT_NOT_FOUND');
  assert.equal((await deploy({ ref: 'main', environment: 'staging', target: 'production' })).status, 400);
  assert.equal((await deploy({ ref: 'main', environment: 'staging' }, viewer)).status, 403);
});

test("variables per environment and branch: a deployment's snapshot has its environment's values, then its branch's", async () => {
  const put = (key: string, body: unknown) => api.call('PUT', `${P}/env/${key}`, { auth: owner, body });
  assert.equal((await put('GREETING', { value: 'prod', targets: ['production'] })).status, 201);
  assert.equal((await put('GREETING', { value: 'stage', targets: ['staging'] })).status, 201, 'a second value of the same name, for another environment');
  assert.equal((await put('GREETING', { value: 'preview', targets: ['preview'] })).status, 201);
  assert.equal((await put('GREETING', { value: 'feature', targets: ['preview'], branch: 'feature-x' })).status, 201);
  assert.equal((await put('SHARED', { value: 'everywhere' })).status, 201);
  assert.equal((await put('GREETING', { value: 'x', targets: ['nope'] })).status, 400);
  assert.equal((await put('GREETING', { value: 'x', branch: 'has space' })).status, 400);

  const list = await api.call('GET', `${P}/env`, { auth: viewer });
  assert.deepEqual(
    list.body.env.map((v: any) => [v.key, v.targets, v.branch]),
    [
      ['GREETING', ['preview'], null],
      ['GREETING', ['production'], null],
      ['GREETING', ['staging'], null],
      ['GREETING', ['preview'], 'feature-x'],
      ['SHARED', ['preview', 'production', 'staging'], null],
    ],
  );
  const snapshot = async (body: unknown) => {
    const d = await api.call('POST', `${P}/deployments`, { auth: owner, body });
    const row = await api.store.db.selectFrom('deployments').select('env').where('id', '=', d.body.id).executeTakeFirstOrThrow();
    return deploymentEnv(api.box, row);
  };
  assert.deepEqual(await snapshot({ ref: 'main' }), { GREETING: 'prod', SHARED: 'everywhere' });
  assert.deepEqual(await snapshot({ ref: 'develop' }), { GREETING: 'stage', SHARED: 'everywhere' });
  assert.deepEqual(await snapshot({ ref: 'feature-x' }), { GREETING: 'feature', SHARED: 'everywhere' }, 'the branch override wins');
  assert.deepEqual(await snapshot({ ref: 'feature-x', environment: 'staging' }), { GREETING: 'stage', SHARED: 'everywhere' }, 'the override is for previews only');

  // a new value for one environment of a shared row changes only that environment; removing one environment's value keeps the others
  assert.equal((await put('SHARED', { value: 'prod only', targets: ['production'] })).status, 200);
  assert.equal((await api.call('DELETE', `${P}/env/GREETING?target=staging`, { auth: owner })).status, 204);
  assert.equal((await api.call('DELETE', `${P}/env/GREETING?branch=feature-x`, { auth: owner })).status, 204);
  assert.deepEqual(await snapshot({ ref: 'main' }), { GREETING: 'prod', SHARED: 'prod only' });
  assert.deepEqual(await snapshot({ ref: 'feature-x' }), { GREETING: 'preview', SHARED: 'everywhere' }, 'preview kept the shared value');
  assert.deepEqual(await snapshot({ ref: 'develop' }), { SHARED: 'everywhere' }, 'staging kept it too');
});

/** A built deployment of `environment` in the given status (the build itself is the real-process test's). */
async function builtDeployment(id: string, environment: string, status: 'ready' | 'awaiting-approval', seq: number): Promise<string> {
  await api.store.db
    .insertInto('deployments')
    .values({
      id,
      project_id: projectId,
      seq: 1000 + seq,
      status,
      target: environment === 'production' ? 'production' : 'preview',
      environment,
      trigger: 'api',
      branch: null,
      commit_sha: 'b'.repeat(40),
      manifest_hash: 'c'.repeat(64),
      attempts: 0,
      created_at: Date.now(),
    } as never)
    .execute();
  return id;
}

test('approvers "member" lets members approve; a member cannot promote past an owner-only approval', async () => {
  const first = await builtDeployment('dwaitmember1', 'staging', 'awaiting-approval', 1);
  const refused = await api.call('POST', `/api/v1/deployments/${first}/approve`, { auth: member, body: {} });
  assert.equal(refused.status, 403);
  assert.match(refused.body.error.message, /Only an owner may approve deployments of staging/);
  const ready = await builtDeployment('dreadypromo1', 'preview', 'ready', 2);
  assert.equal((await api.call('POST', `/api/v1/deployments/${ready}/promote`, { auth: member, body: { environment: 'staging' } })).status, 403);
  assert.equal((await api.call('POST', `/api/v1/deployments/${ready}/promote`, { auth: member, body: { environment: 'preview' } })).status, 400);

  assert.equal((await api.call('PATCH', `${P}/environments/staging`, { auth: owner, body: { approvers: 'member' } })).status, 200);
  const approved = await api.call('POST', `/api/v1/deployments/${first}/approve`, { auth: member });
  assert.equal(approved.status, 200, JSON.stringify(approved.body));
  assert.equal(approved.body.status, 'ready');
  const lookup = createStoreLookup(api.store, 'localhost');
  assert.equal((await lookup.resolveHost('staging--site.localhost'))?.deploymentId, first);
  assert.equal((await api.call('POST', `/api/v1/deployments/${first}/approve`, { auth: member })).status, 409, 'only once');
  assert.equal((await api.call('POST', `/api/v1/deployments/${first}/reject`, { auth: member, body: { reason: 'x'.repeat(501) } })).status, 400);

  // production that waits for a person: autoPromote false is a setting of its own
  const prod = await api.call('PATCH', `${P}/environments/production`, { auth: owner, body: { autoPromote: false } });
  assert.equal(prod.body.autoPromote, false);
  assert.equal((await api.call('GET', `${P}/environments/production`, { auth: viewer })).body.autoPromote, false);
  // what a finished build then does (the worker's decision): production builds stay where they are, staging ones wait
  const project = await api.store.db.selectFrom('projects').selectAll().where('id', '=', projectId).executeTakeFirstOrThrow();
  assert.deepEqual(await goLivePlan(api.store.db, project, 'production'), { waits: false, alias: 'production', autoPromote: false });
  assert.deepEqual(await goLivePlan(api.store.db, project, 'staging'), { waits: true, alias: 'env:staging', autoPromote: true });
  assert.deepEqual(await goLivePlan(api.store.db, project, 'preview'), { waits: false, alias: undefined, autoPromote: true });
  assert.deepEqual(await goLivePlan(api.store.db, project, 'gone'), { waits: false, alias: undefined, autoPromote: false }, 'a deleted environment: like a preview');
});

test('a domain bound to staging serves what staging serves; a preview or unknown environment is refused', async () => {
  const preview = await api.call('POST', `${P}/domains`, { auth: owner, body: { name: 'review.acme.test', environment: 'preview' } });
  assert.equal(preview.status, 400);
  assert.match(preview.body.error.message, /environment must be/);
  const unknown = await api.call('POST', `${P}/domains`, { auth: owner, body: { name: 'review.acme.test', environment: 'qa' } });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error.code, 'ENVIRONMENT_NOT_FOUND');
  const now = Date.now();
  // the row the domain API writes (its DNS check has its own tests)
  await api.store.db
    .insertInto('domains')
    .values({ name: 'staging.acme.test', project_id: projectId, environment: 'staging', status: 'active', check_failures: 0, created_at: now, updated_at: now } as never)
    .execute();
  const prodDeployment = await builtDeployment('dprodready01', 'production', 'ready', 3);
  assert.equal((await api.call('POST', `/api/v1/deployments/${prodDeployment}/promote`, { auth: owner })).status, 200);
  const lookup = createStoreLookup(api.store, 'localhost');
  assert.equal((await lookup.resolveHost('staging.acme.test'))?.deploymentId, 'dwaitmember1');
  assert.equal((await lookup.resolveHost('site.localhost'))?.deploymentId, prodDeployment);
  // deleting the environment takes its alias and domains with it
  assert.equal((await api.call('DELETE', `${P}/environments/staging`, { auth: owner })).status, 204);
  assert.equal(await lookup.resolveHost('staging.acme.test'), undefined);
  assert.equal(await lookup.resolveHost('staging--site.localhost'), undefined);
  assert.equal((await api.call('GET', `/api/v1/deployments/dwaitmember1`, { auth: viewer })).body.status, 'ready', 'its deployments stay');
});

test('migration 0014 keeps the variables that existed before it', async () => {
  const mdir = await tempDir('slipway-migrate-');
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new Sqlite(join(mdir.path, 'slipway.db')) }) });
  try {
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
    assert.equal((await migrator.migrateTo('0012_deployment_source')).error, undefined);
    await db.insertInto('projects').values({ id: 'pold', name: 'old', repo_url: 'x', production_branch: 'main', webhook_secret: 'x', created_at: 1 }).execute();
    await db.insertInto('env_vars').values({ project_id: 'pold', key: 'API_URL', value: 'v1:enc', targets: 'preview,production', created_at: 5, updated_at: 6 }).execute();
    const { error } = await migrator.migrateToLatest();
    assert.equal(error, undefined);
    const rows = await db.selectFrom('env_vars').selectAll().execute();
    assert.equal(rows.length, 1);
    assert.deepEqual({ ...rows[0], id: undefined }, { id: undefined, project_id: 'pold', key: 'API_URL', branch: null, value: 'v1:enc', targets: 'preview,production', created_at: 5, updated_at: 6 });
  } finally {
    await db.destroy();
    await mdir.cleanup();
  }
});

test('preview protection covers every preview deployment and branch host; production stays open', async () => {
  const made = await api.call('PATCH', `${P}/environments/preview`, { auth: owner, body: { protection: { mode: 'password', password: 'preview password' } } });
  assert.equal(made.status, 200, JSON.stringify(made.body));
  assert.deepEqual(made.body.protection, { mode: 'password' });
  assert.equal(made.body.bypassToken, undefined);
  const row = await api.store.db.selectFrom('environments').selectAll().where('project_id', '=', projectId).where('name', '=', 'preview').executeTakeFirstOrThrow();
  assert.match(row.protection_hash ?? '', /^scrypt\$/, 'a salted hash is kept');
  assert.equal(JSON.stringify(row).includes('preview password'), false, 'never the password');
  const previewId = await builtDeployment('dpreviewprot', 'preview', 'ready', 4);
  await api.store.db.updateTable('deployments').set({ branch: 'feature-x' }).where('id', '=', previewId).execute();
  await api.store.db.insertInto('aliases').values({ project_id: projectId, name: 'branch:feature-x', deployment_id: previewId, updated_at: Date.now() }).execute();
  const lookup = createStoreLookup(api.store, 'localhost');
  for (const host of [`${previewId}--site.localhost`, 'feature-x--site.localhost']) {
    const resolved = await lookup.resolveHost(host);
    assert.equal(resolved?.deploymentId, previewId, host);
    assert.equal(resolved?.settings?.protection?.mode, 'password', host);
  }
  const prod = await lookup.resolveHost('site.localhost');
  assert.equal(prod?.settings?.protection, undefined, 'production is not protected unless asked');
  assert.equal((await lookup.resolveHost(`dprodready01--site.localhost`))?.settings?.protection, undefined);
});
