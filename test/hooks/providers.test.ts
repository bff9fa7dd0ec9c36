import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeRepo } from '../helpers/git.js';
import { tempDir } from '../helpers/paths.js';
import { startSlipwayProcess, type RunningSlipway } from '../helpers/slipway.js';
import { githubExample, hookFixture, sendGitea, sendGithub, sendGitlab } from './send.js';

// The three git hosts' webhooks over real HTTP against an api-only `slipway up` (no worker:
// every row a test sees was made by a webhook alone), with payloads as the hosts document them
// (GitHub: @octokit/webhooks-examples; GitLab and Gitea: test/fixtures/webhooks) adapted to a
// real repository's commits.
let dir: Awaited<ReturnType<typeof tempDir>>;
let repo: Awaited<ReturnType<typeof makeRepo>>;
let slipway: RunningSlipway;
let secret: string;
let shaA: string;
let shaB: string;

before(async () => {
  dir = await tempDir();
  repo = await makeRepo(join(dir.path, 'repo'));
  shaA = await repo.commit({ 'index.html': '<h1>a</h1>' }, 'a');
  shaB = await repo.commit({ 'index.html': '<h1>b</h1>' }, 'b');
  await repo.push();
  slipway = await startSlipwayProcess(join(dir.path, 'data'), ['--roles', 'api,edge', '--edge-workers', '0']);
  const created = await slipway.api('POST', '/api/v1/projects', { name: 'hooks', repoUrl: repo.url });
  assert.equal(created.status, 201);
  secret = created.body.webhookSecret;
});

after(async () => {
  await slipway?.stop();
  await dir?.cleanup();
});

const deployment = async (id: string) => (await slipway.api('GET', `/api/v1/deployments/${id}`)).body;
const patch = (body: unknown) => slipway.api('PATCH', '/api/v1/projects/hooks', body);

/** GitHub's own pull_request example for `action`, pointed at our repository's commit `sha`. */
function githubPr(action: string, number: number, sha: string, opts: { fork?: string; ref?: string } = {}) {
  const p = githubExample('pull_request', (x) => x.action === action);
  p.number = number;
  p.pull_request.number = number;
  p.pull_request.head.sha = sha;
  p.pull_request.head.ref = opts.ref ?? 'feature/pr';
  if (opts.fork !== undefined) p.pull_request.head.repo = { ...p.pull_request.head.repo, full_name: opts.fork, fork: true };
  return p;
}

test('GitHub: a pull request builds its head as pr-<n>; the push of the same commit shares that deployment; closing removes it', async () => {
  const opened = await sendGithub(slipway.apiUrl, 'hooks', secret, 'pull_request', githubPr('opened', 7, shaA));
  assert.equal(opened.status, 202, JSON.stringify(opened.body));
  const d = await deployment(opened.body.deploymentId);
  assert.equal(d.pullRequest, 7);
  assert.equal(d.target, 'preview');
  assert.equal(d.branch, 'feature/pr');
  assert.deepEqual(d.source, { provider: 'github', repo: 'Codertocat/Hello-World', headRepo: null });
  assert.match(d.pullRequestUrl, /^http:\/\/pr-7--hooks\.localhost:\d+$/);
  assert.match(d.branchUrl, /^http:\/\/feature-pr-[0-9a-f]{6}--hooks\.localhost:\d+$/);

  const push = githubExample('push', (x) => x.ref === 'refs/heads/master');
  Object.assign(push, { ref: 'refs/heads/feature/pr', after: shaA, before: '0'.repeat(40) });
  push.head_commit = { ...push.head_commit, id: shaA };
  const pushed = await sendGithub(slipway.apiUrl, 'hooks', secret, 'push', push);
  assert.equal(pushed.body.deploymentId, d.id, 'one commit, one deployment');
  assert.equal(pushed.body.reused, true);

  const closed = await sendGithub(slipway.apiUrl, 'hooks', secret, 'pull_request', githubPr('closed', 7, shaA));
  assert.equal(closed.status, 202);
  assert.match(closed.body.reason, /pull request #7 was closed/);
  assert.equal((await deployment(d.id)).status, 'canceled', 'a queued build of a closed pull request is canceled');

  const audit = await slipway.api('GET', '/api/v1/teams/default/audit');
  const byHook = audit.body.events.filter((e: any) => e.actor.type === 'webhook');
  assert.ok(byHook.some((e: any) => e.action === 'deployment.create' && e.target === d.id && e.actor.id === 'github' && e.details.pullRequest === 7));
  assert.ok(byHook.some((e: any) => e.action === 'preview.remove' && e.target === 'pr:7'));
});

test('GitHub: a fork pull request is ignored by default, and built without the branch alias when forkPreviews is on', async () => {
  const ignored = await sendGithub(slipway.apiUrl, 'hooks', secret, 'pull_request', githubPr('opened', 8, shaB, { fork: 'mallory/Hello-World', ref: 'main' }));
  assert.equal(ignored.status, 202);
  assert.match(ignored.body.ignored, /fork mallory\/Hello-World.*forkPreviews/);
  assert.equal((await patch({ forkPreviews: true })).body.forkPreviews, true);
  const built = await sendGithub(slipway.apiUrl, 'hooks', secret, 'pull_request', githubPr('synchronize', 8, shaB, { fork: 'mallory/Hello-World', ref: 'main' }));
  const d = await deployment(built.body.deploymentId);
  assert.equal(d.target, 'preview', "a fork's main is not our production");
  assert.equal(d.branch, null);
  assert.equal(d.branchUrl, null);
  assert.deepEqual(d.source, { provider: 'github', repo: 'Codertocat/Hello-World', headRepo: 'mallory/Hello-World' });
  await patch({ forkPreviews: null });
});

test('GitLab: X-Gitlab-Token is required and compared; Push Hook and Merge Request Hook with their documented shapes', async () => {
  const push = await hookFixture('gitlab-push.json');
  Object.assign(push, { ref: 'refs/heads/feature/gl', before: shaA, after: shaB, checkout_sha: shaB });
  push.commits[1].id = shaB;
  const wrong = await sendGitlab(slipway.apiUrl, 'hooks', 'not-the-secret', 'Push Hook', push);
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.error.code, 'BAD_SIGNATURE');
  assert.equal((await sendGitlab(slipway.apiUrl, 'hooks', '', 'Push Hook', push)).status, 401);

  const first = await sendGitlab(slipway.apiUrl, 'hooks', secret, 'Push Hook', push, 'uuid-1');
  assert.equal(first.status, 202, JSON.stringify(first.body));
  const d = await deployment(first.body.deploymentId);
  assert.deepEqual([d.branch, d.commit.sha, d.commit.message, d.target], ['feature/gl', shaB, 'fixed readme', 'preview']);
  assert.deepEqual(d.source, { provider: 'gitlab', repo: 'mike/diaspora', headRepo: null });
  assert.equal((await sendGitlab(slipway.apiUrl, 'hooks', secret, 'Push Hook', push, 'uuid-1')).body.deploymentId, d.id, 'the same X-Gitlab-Event-UUID');
  // one repository's webhook to a second project is that project's own delivery
  const second = await slipway.api('POST', '/api/v1/projects', { name: 'hooks-two', repoUrl: repo.url });
  const other = await sendGitlab(slipway.apiUrl, 'hooks-two', second.body.webhookSecret, 'Push Hook', push, 'uuid-1');
  assert.ok(other.body.deploymentId !== undefined && other.body.deploymentId !== d.id, JSON.stringify(other.body));
  // without the UUID header, the body itself is the delivery
  const noUuid = await sendGitlab(slipway.apiUrl, 'hooks', secret, 'Push Hook', { ...push, ref: 'refs/heads/feature/gl2' }, null);
  const again = await sendGitlab(slipway.apiUrl, 'hooks', secret, 'Push Hook', { ...push, ref: 'refs/heads/feature/gl2' }, null);
  assert.equal(again.body.deploymentId, noUuid.body.deploymentId);

  const mr = await hookFixture('gitlab-merge-request.json');
  mr.object_attributes.iid = 5;
  mr.object_attributes.last_commit.id = shaA;
  const opened = await sendGitlab(slipway.apiUrl, 'hooks', secret, 'Merge Request Hook', mr);
  const m = await deployment(opened.body.deploymentId);
  assert.deepEqual([m.pullRequest, m.branch, m.source.repo, m.source.headRepo], [5, 'ms-viewport', 'awesome_space/awesome_project', null]);
  // an update without oldrev is a title or label change: nothing to build
  mr.object_attributes.action = 'update';
  assert.match((await sendGitlab(slipway.apiUrl, 'hooks', secret, 'Merge Request Hook', mr)).body.ignored, /changes no commit/);
  mr.object_attributes.oldrev = shaA;
  mr.object_attributes.last_commit.id = shaB;
  const updated = await sendGitlab(slipway.apiUrl, 'hooks', secret, 'Merge Request Hook', mr);
  assert.equal((await deployment(updated.body.deploymentId)).commit.sha, shaB);
  mr.object_attributes.action = 'merge';
  assert.match((await sendGitlab(slipway.apiUrl, 'hooks', secret, 'Merge Request Hook', mr)).body.reason, /merge request #5 was closed/);
  // from another project (a fork): ignored while forkPreviews is off
  mr.object_attributes.action = 'open';
  mr.object_attributes.iid = 6;
  mr.object_attributes.source_project_id = 99;
  mr.object_attributes.source.path_with_namespace = 'mallory/awesome_project';
  assert.match((await sendGitlab(slipway.apiUrl, 'hooks', secret, 'Merge Request Hook', mr)).body.ignored, /fork mallory\/awesome_project/);
  assert.match((await sendGitlab(slipway.apiUrl, 'hooks', secret, 'Tag Push Hook', push)).body.ignored, /not handled/);
});

test('Gitea: X-Gitea-Signature is checked; push, pull_request_sync, closed and delete', async () => {
  const push = await hookFixture('gitea-push.json');
  Object.assign(push, { ref: 'refs/heads/develop', before: shaA, after: shaB });
  push.commits[0].id = shaB;
  const forged = await sendGitea(slipway.apiUrl, 'hooks', 'not-the-secret', 'push', push);
  assert.equal(forged.status, 401);
  assert.equal(forged.body.error.code, 'BAD_SIGNATURE');
  const pushed = await sendGitea(slipway.apiUrl, 'hooks', secret, 'push', push, 'gitea-1');
  const d = await deployment(pushed.body.deploymentId);
  assert.deepEqual([d.branch, d.commit.message, d.source.provider, d.source.repo], ['develop', 'Webhooks Yay!', 'gitea', 'gitea/webhooks']);
  assert.equal((await sendGitea(slipway.apiUrl, 'hooks', secret, 'push', push, 'gitea-1')).body.deploymentId, d.id);

  const pr = await hookFixture('gitea-pull-request.json');
  Object.assign(pr, { action: 'synchronized', number: 4 });
  pr.pull_request.number = 4;
  pr.pull_request.head.sha = shaA;
  const synced = await sendGitea(slipway.apiUrl, 'hooks', secret, 'pull_request_sync', pr);
  const p = await deployment(synced.body.deploymentId);
  assert.deepEqual([p.pullRequest, p.branch, p.commit.sha], [4, 'develop', shaA]);
  pr.action = 'closed';
  assert.match((await sendGitea(slipway.apiUrl, 'hooks', secret, 'pull_request', pr)).body.reason, /pull request #4 was closed/);
  const deleted = await sendGitea(slipway.apiUrl, 'hooks', secret, 'delete', { ref: 'develop', ref_type: 'branch', pusher_type: 'user', repository: push.repository, sender: push.sender });
  assert.match(deleted.body.reason, /branch develop was deleted/);
});

test('preview settings: validated with a hint, shown in GET, and applied to pushes', async () => {
  for (const body of [
    { previewBranches: ['main'] },
    { previewBranches: { only: ['x'] } },
    { ignoredBuildStep: { paths: ['a'], command: 'true' } },
    { ignoredBuildStep: { paths: ['../x'] } },
    { forkPreviews: 'yes' },
  ]) {
    const res = await patch(body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.error.code, 'VALIDATION');
    assert.match(res.body.error.hint, /For example/);
  }
  const set = await patch({ previewBranches: { include: ['feature/**'], exclude: ['feature/wip-*'] } });
  assert.deepEqual(set.body.previewBranches, { include: ['feature/**'], exclude: ['feature/wip-*'] });
  const shown = await slipway.api('GET', '/api/v1/projects/hooks');
  assert.deepEqual([shown.body.previewsEnabled, shown.body.forkPreviews, shown.body.ignoredBuildStep], [true, false, null]);

  const push = (ref: string, commits?: unknown[]) => {
    const p = githubExample('push', (x) => x.ref === 'refs/heads/master');
    Object.assign(p, { ref, before: shaA, after: shaB });
    if (commits !== undefined) p.commits = commits;
    return sendGithub(slipway.apiUrl, 'hooks', secret, 'push', p);
  };
  assert.match((await push('refs/heads/fix/x')).body.ignored, /none of previewBranches.include/);
  assert.match((await push('refs/heads/feature/wip-1')).body.ignored, /previewBranches.exclude/);
  assert.ok((await push('refs/heads/feature/a/b')).body.deploymentId);

  // paths: from the payload's lists, else from git diff in the real repository (shaA..shaB changed index.html)
  await patch({ previewBranches: null, ignoredBuildStep: { paths: ['apps/web'] } });
  const skipped = await push('refs/heads/docs', [{ id: shaB, added: ['README.md'], modified: [], removed: [] }]);
  assert.match(skipped.body.skipped, /ignored build step: the push changes none of apps\/web \(1 files changed\)/);
  assert.ok((await push('refs/heads/docs', [{ id: shaB, added: [], modified: ['apps/web/index.html'], removed: [] }])).body.deploymentId);
  const diffed = await push('refs/heads/docs', [{ id: shaB, message: 'no file lists' }]);
  assert.match(diffed.body.skipped, /none of apps\/web \(1 files changed\)/, 'git diff --name-only found index.html');
  // a pull request's new commits too: else its event would build what the push skipped
  const synchronize = { ...githubPr('synchronize', 30, shaB), before: shaA, after: shaB };
  assert.match((await sendGithub(slipway.apiUrl, 'hooks', secret, 'pull_request', synchronize)).body.skipped, /none of apps\/web/);
  assert.ok((await sendGithub(slipway.apiUrl, 'hooks', secret, 'pull_request', githubPr('opened', 31, shaB))).body.deploymentId, 'a new pull request has nothing to compare with');
  await patch({ ignoredBuildStep: { paths: ['index.html'] } });
  assert.ok((await push('refs/heads/docs', [{ id: shaB, message: 'no file lists' }])).body.deploymentId);

  await patch({ ignoredBuildStep: null, previewsEnabled: false });
  assert.match((await push('refs/heads/feature/off')).body.ignored, /previews are off/);
  assert.ok((await push('refs/heads/main')).body.deploymentId, 'the production branch still builds');
  const audit = await slipway.api('GET', '/api/v1/teams/default/audit');
  assert.ok(audit.body.events.some((e: any) => e.action === 'deployment.skip' && e.actor.type === 'webhook' && /apps\/web/.test(e.details.reason)));
  await patch({ previewsEnabled: true });
});
