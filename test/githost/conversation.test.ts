import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { commentMarker, gitHostStatus, saveTeamGitHost, startGitHostReporter } from '../../src/githost/index.js';
import { startGithubApi, type GithubApiRequest, type LocalGithubApi } from '../helpers/github-api.js';
import { tempDir } from '../helpers/paths.js';
import { startReporterFixture, until } from './fixture.js';

// The conversation with GitHub, against a local API that checks every request against GitHub's
// own OpenAPI description: what a reviewer of a pull request sees, in the order they see it.

const SHA_A = 'a'.repeat(40);
const SHA_B = 'b'.repeat(40);
const TOKEN = 'ghp_platformtoken0001';

let api: LocalGithubApi;
before(async () => {
  api = await startGithubApi({ token: TOKEN });
});
after(() => api.close());

const ops = (rs: GithubApiRequest[]) => rs.map((r) => `${r.operationId}${r.body?.state === undefined ? '' : `:${r.body.state}`}`);
const since = (n: number) => api.requests.slice(n);

test('a pull request: statuses in order, one comment created then edited, the replaced preview inactive', async (t) => {
  const f = await startReporterFixture({ 'github-token': TOKEN, 'github-api-url': api.url });
  t.after(() => f.close());
  const start = api.requests.length;

  const d1 = await f.deploy({ sha: SHA_A, pr: 7, branch: 'feature/login' });
  await until(
    () => [...api.comments.values()].some((c) => c.issue === 7),
    () => ops(since(start)).join(' '),
  );
  assert.deepEqual(ops(since(start)), ['repos/create-deployment', 'repos/create-deployment-status:queued', 'repos/create-commit-status:pending', 'issues/list-comments', 'issues/create-comment']);
  const created = since(start)[0]!;
  assert.equal(created.path, '/repos/acme/site/deployments');
  assert.equal(created.body.ref, SHA_A);
  assert.equal(created.body.environment, 'site / pr-7');
  assert.equal(created.body.transient_environment, true);
  assert.equal(created.authorization, `Bearer ${TOKEN}`);
  const commit = since(start)[2]!;
  assert.equal(commit.path, `/repos/acme/site/statuses/${SHA_A}`);
  assert.equal(commit.body.context, 'slipway/site/preview');

  await f.setStatus(d1, 'building');
  await f.ready(d1, 'pr:7');
  await until(
    () => [...api.deployments.values()][0]?.states.includes('success') === true,
    () => ops(since(start)).join(' '),
  );
  const success = api.requests.find((r) => r.body?.state === 'success' && r.operationId === 'repos/create-deployment-status')!;
  assert.equal(success.body.environment_url, 'http://pr-7--site.localhost:8080');
  assert.equal(success.body.log_url, `http://deploy.test/p/site/d/${d1}`);
  await until(
    async () => (await gitHostStatus(f.store.db, d1))?.state === 'sent',
    () => 'd1 reported',
  );

  // the next push to the pull request: a new GitHub deployment, the same comment edited
  const second = api.requests.length;
  const d2 = await f.deploy({ sha: SHA_B, pr: 7, branch: 'feature/login' });
  await f.setStatus(d2, 'building');
  await f.ready(d2, 'pr:7');
  await until(
    () => [...api.deployments.values()][0]?.states.at(-1) === 'inactive' && [...api.deployments.values()][1]?.states.at(-1) === 'success',
    () => ops(since(second)).join(' '),
  );
  await until(
    async () => (await gitHostStatus(f.store.db, d2))?.state === 'sent',
    () => 'd2 reported',
  );
  const [first, next] = [...api.deployments.values()];
  assert.deepEqual(first!.states, ['queued', 'in_progress', 'success', 'inactive']);
  assert.deepEqual(next!.states, ['queued', 'in_progress', 'success']);
  assert.equal(api.comments.size, 1, 'one comment on the pull request, never a second');
  const comment = [...api.comments.values()][0]!;
  assert.ok(comment.body.startsWith(commentMarker('site')));
  assert.match(comment.body, /✅ Ready/);
  assert.match(comment.body, /`bbbbbbb`/);
  assert.ok(comment.body.includes('http://pr-7--site.localhost:8080'));
  assert.equal(since(second).filter((r) => r.operationId === 'issues/create-comment').length, 0);
  assert.ok(since(second).filter((r) => r.operationId === 'issues/update-comment').length >= 1);
  // turning inactive sends no commit status: the replaced commit keeps its success
  const inactive = since(second).findIndex((r) => r.body?.state === 'inactive');
  assert.ok(
    !since(second)
      .slice(inactive + 1)
      .some((r) => r.operationId === 'repos/create-commit-status' && r.path.endsWith(SHA_A)),
  );

  // the pull request closes: its preview alias goes away, the newest deployment turns inactive, the comment says so
  await f.store.db.deleteFrom('aliases').where('name', '=', 'pr:7').execute();
  f.events.emit('alias-moved', { projectId: f.project.id, alias: 'pr:7', deploymentId: d2 });
  await until(
    () => next!.states.at(-1) === 'inactive',
    () => JSON.stringify(next!.states),
  );
  await until(
    () => /Closed/.test([...api.comments.values()][0]!.body),
    () => [...api.comments.values()][0]!.body,
  );
  assert.equal(api.comments.size, 1);
  assert.deepEqual(api.errors, []);
});

test('a lost comment id: the comment is found again by its marker, not duplicated', async (t) => {
  const f = await startReporterFixture({ 'github-token': TOKEN, 'github-api-url': api.url });
  t.after(() => f.close());
  const d1 = await f.deploy({ sha: SHA_A, pr: 21 });
  await until(
    async () => (await gitHostStatus(f.store.db, d1))?.state === 'sent',
    () => 'first report',
  );
  await f.store.db.deleteFrom('git_host_comments').execute();
  const start = api.requests.length;
  await f.deploy({ sha: SHA_B, pr: 21 });
  await until(
    () => since(start).some((r) => r.operationId === 'issues/update-comment'),
    () => ops(since(start)).join(' '),
  );
  assert.equal([...api.comments.values()].filter((c) => c.issue === 21).length, 1);
  assert.ok(since(start).some((r) => r.operationId === 'issues/list-comments'));
  assert.deepEqual(api.errors, []);
});

test('a 502 is retried with backoff; a rate limit waits until the time GitHub names', async (t) => {
  const f = await startReporterFixture({ 'github-token': TOKEN, 'github-api-url': api.url });
  t.after(() => f.close());
  const start = api.requests.length;
  api.failNext(1, '502');
  const d = await f.deploy({ sha: SHA_A, branch: 'main', environment: 'production' });
  await until(
    async () => (await gitHostStatus(f.store.db, d))?.state === 'sent',
    () => ops(since(start)).join(' '),
  );
  const report = await gitHostStatus(f.store.db, d);
  assert.equal(report?.attempts, 0, 'a success clears the failures');
  assert.equal(since(start)[0]!.status, 502);
  assert.equal(since(start)[1]!.operationId, 'repos/create-deployment');
  assert.ok(since(start)[1]!.at - since(start)[0]!.at >= 90, 'retried after the backoff');

  // a rate limit with x-ratelimit-reset: nothing is asked before the reset
  api.failNext(1, 'ratelimit-reset');
  const limited = api.requests.length;
  await f.setStatus(d, 'building');
  await until(
    () => since(limited).some((r) => r.body?.state === 'in_progress'),
    () => ops(since(limited)).join(' '),
  );
  const [refused, retried] = since(limited);
  assert.equal(refused!.status, 403);
  const reset = Math.ceil(refused!.at / 1000) + 1;
  assert.ok(retried!.at >= reset * 1000, `asked again at ${retried!.at}, before the reset ${reset * 1000}`);
  await until(
    async () => (await gitHostStatus(f.store.db, d))?.state === 'sent',
    () => 'reported after the rate limit',
  );

  // and with retry-after (a secondary rate limit)
  api.failNext(1, 'retry-after');
  const secondary = api.requests.length;
  await f.ready(d, 'production');
  await until(
    () => since(secondary).some((r) => r.body?.state === 'success'),
    () => ops(since(secondary)).join(' '),
  );
  assert.ok(since(secondary)[1]!.at - since(secondary)[0]!.at >= 1000);
  assert.deepEqual(api.errors, []);
});

test('a git host that keeps failing: the failure shows on the deployment, the reporter gives up, the deployment is untouched', async (t) => {
  const f = await startReporterFixture({ 'github-token': TOKEN, 'github-api-url': api.url }, { backoff: { baseMs: 50, capMs: 100, giveUpMs: 400 } });
  t.after(() => f.close());
  api.failNext(1000, '502');
  t.after(() => api.clearFailures());
  const d = await f.deploy({ sha: SHA_A, branch: 'main', environment: 'production' });
  await until(
    async () => (await gitHostStatus(f.store.db, d))?.state === 'retrying',
    () => 'a failed attempt',
  );
  const retrying = await gitHostStatus(f.store.db, d);
  assert.match(retrying!.lastError ?? '', /502/);
  await f.ready(d, 'production');
  await until(
    async () => (await gitHostStatus(f.store.db, d))?.state === 'failed',
    () => 'gave up',
  );
  const gaveUp = await gitHostStatus(f.store.db, d);
  const count = api.requests.length;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(api.requests.length, count, 'no more requests once given up');
  assert.ok(gaveUp!.attempts >= 3);
  const row = await f.store.db.selectFrom('deployments').select(['status', 'error_code']).where('id', '=', d).executeTakeFirstOrThrow();
  assert.deepEqual(row, { status: 'ready', error_code: null });
});

test('GitHub App: a JWT buys an installation token, which is reused', async (t) => {
  const dir = await tempDir('slipway-app-');
  t.after(() => dir.cleanup());
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyFile = join(dir.path, 'app.pem');
  await writeFile(keyFile, privateKey.export({ type: 'pkcs1', format: 'pem' }));
  const appApi = await startGithubApi({ app: { appId: '4242', publicKey, installationId: 99 } });
  t.after(() => appApi.close());
  const f = await startReporterFixture({ 'github-app-id': '4242', 'github-app-private-key-file': keyFile, 'github-api-url': appApi.url });
  t.after(() => f.close());
  const d1 = await f.deploy({ sha: SHA_A, branch: 'main', environment: 'production' });
  const d2 = await f.deploy({ sha: SHA_B, branch: 'other', environment: 'production' });
  await until(
    async () => (await gitHostStatus(f.store.db, d1))?.state === 'sent' && (await gitHostStatus(f.store.db, d2))?.state === 'sent',
    () => JSON.stringify(appApi.errors),
  );
  assert.deepEqual(appApi.errors, []);
  const tokens = appApi.requests.filter((r) => r.operationId === 'apps/create-installation-access-token');
  assert.equal(tokens.length, 1, 'the installation token is cached');
  assert.equal(tokens[0]!.path, '/app/installations/99/access_tokens');
  const deployments = appApi.requests.filter((r) => r.operationId === 'repos/create-deployment');
  assert.equal(deployments.length, 2);
  assert.match(deployments[0]!.authorization ?? '', /^Bearer ghs_local/);
});

test("a team's own token is used for its projects instead of the operator's", async (t) => {
  const teamApi = await startGithubApi({ token: 'ghp_teamtoken' });
  t.after(() => teamApi.close());
  const f = await startReporterFixture({ 'github-token': TOKEN, 'github-api-url': api.url });
  t.after(() => f.close());
  const team = `t${Date.now().toString(36)}`;
  await f.store.db.insertInto('teams').values({ id: team, slug: 'acme', name: 'Acme', created_at: Date.now() }).execute();
  await f.store.db.updateTable('projects').set({ team_id: team }).where('id', '=', f.project.id).execute();
  await saveTeamGitHost(f.store.db, f.box, team, { provider: 'github', apiUrl: teamApi.url, token: 'ghp_teamtoken' });
  const d = await f.deploy({ sha: SHA_A, branch: 'main', environment: 'production' });
  await until(
    async () => (await gitHostStatus(f.store.db, d))?.state === 'sent',
    () => JSON.stringify(teamApi.errors),
  );
  assert.deepEqual(teamApi.errors, []);
  assert.ok(teamApi.requests.some((r) => r.operationId === 'repos/create-deployment'));
});

test('two reporters on one store (two worker processes) never tell GitHub the same thing twice', async (t) => {
  const f = await startReporterFixture({ 'github-token': TOKEN, 'github-api-url': api.url });
  t.after(() => f.close());
  const other = startGitHostReporter({ store: f.store, config: f.config, box: f.box, events: f.events, pollMs: 10 });
  t.after(() => other.stop());
  const start = api.requests.length;
  const ids = await Promise.all([1, 2, 3, 4].map((n) => f.deploy({ sha: String(n).repeat(40), branch: `b${n}`, environment: 'production' })));
  for (const id of ids) await f.setStatus(id, 'building');
  for (const id of ids) await f.ready(id, `branch:${id}`);
  await until(
    async () => (await Promise.all(ids.map((id) => gitHostStatus(f.store.db, id)))).every((r) => r?.state === 'sent' && r.sent.join() === 'queued,in_progress,success'),
    () => ops(since(start)).join(' '),
  );
  const made = since(start).filter((r) => r.operationId === 'repos/create-deployment');
  assert.equal(made.length, 4, 'one GitHub deployment per deployment');
  for (const r of made) assert.deepEqual(api.deployments.get([...api.deployments].find(([, d]) => d.body === r.body)![0])!.states, ['queued', 'in_progress', 'success']);
  assert.deepEqual(api.errors, []);
});
