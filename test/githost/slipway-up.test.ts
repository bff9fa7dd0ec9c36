import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeRepo } from '../helpers/git.js';
import { startGithubApi } from '../helpers/github-api.js';
import { fixturesDir, repoRoot, tempDir } from '../helpers/paths.js';
import { sendWebhook, startSlipwayProcess, waitFor, waitForStatus } from '../helpers/slipway.js';

/** GitHub's own example of a branch push (@octokit/webhooks-examples), made to name this commit. */
async function realPushPayload(sha: string, message: string) {
  const all = JSON.parse(await readFile(join(repoRoot, 'node_modules/@octokit/webhooks-examples/api.github.com/index.json'), 'utf8')) as Array<{ name: string; examples: any[] }>;
  const example = structuredClone(all.find((e) => e.name === 'push')!.examples.find((x) => x.ref === 'refs/heads/master' && x.deleted === false));
  assert.ok(example, 'a branch push among the examples');
  example.after = sha;
  example.head_commit = { ...example.head_commit, id: sha, message };
  return example;
}

// End to end: a real `slipway up` reporting to the local GitHub API, a signed push webhook to
// the production branch, a real build of the static fixture. The git host fails its first
// answers: the deployment goes live regardless, and the statuses follow once GitHub answers.

test('a push to production is reported to GitHub: deployment statuses and a commit status, despite a failing start', async (t) => {
  const dir = await tempDir('slipway-githost-e2e-');
  t.after(() => dir.cleanup());
  const repo = await makeRepo(join(dir.path, 'repo'), 'master');
  const sha = await repo.commitFixture(join(fixturesDir, 'static-site'), 'first version');
  await repo.push();
  // the project names its GitHub repository; git on this machine reads it from the local bare one
  const home = join(dir.path, 'home');
  await mkdir(home);
  await writeFile(join(home, '.gitconfig'), `[url "${repo.url}"]\n\tinsteadOf = https://github.com/Codertocat/Hello-World\n`);

  const github = await startGithubApi({ token: 'ghp_e2e' });
  t.after(() => github.close());
  github.failNext(2, '502');
  const slipway = await startSlipwayProcess(join(dir.path, 'data'), [], { HOME: home, SLIPWAY_GITHUB_TOKEN: 'ghp_e2e', SLIPWAY_GITHUB_API_URL: github.url });
  t.after(() => slipway.stop());

  const created = await slipway.api('POST', '/api/v1/projects', { name: 'site', repoUrl: 'https://github.com/Codertocat/Hello-World', productionBranch: 'master' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const hook = await sendWebhook(slipway.apiUrl, 'site', created.body.webhookSecret, await realPushPayload(sha, 'first version'));
  assert.equal(hook.status, 202, JSON.stringify(hook.body));
  const id = hook.body.deploymentId as string;
  const d = await waitForStatus(slipway, id, ['ready', 'failed']);
  assert.equal(d.status, 'ready', `${JSON.stringify(d.error)}\n${slipway.output()}`);

  await waitFor('GitHub to hear of the success', async () => ([...github.deployments.values()][0]?.states.at(-1) === 'success' ? true : undefined), 30_000);
  const answer = await waitFor(
    'the report to finish',
    async () => {
      const { body } = await slipway.api('GET', `/api/v1/deployments/${id}`);
      return body.gitHost?.state === 'sent' ? body : undefined;
    },
    10_000,
  );
  assert.equal(answer.status, 'ready');
  assert.deepEqual(answer.gitHost.sent, ['queued', 'in_progress', 'success']);
  assert.equal(github.requests[0]!.status, 502);
  assert.equal(github.requests[1]!.status, 502);
  const [deployment] = [...github.deployments.values()];
  assert.deepEqual(deployment!.states, ['queued', 'in_progress', 'success']);
  assert.equal(deployment!.body.ref, sha);
  assert.equal(deployment!.body.production_environment, true);
  const success = github.requests.find((r) => r.operationId === 'repos/create-deployment-status' && r.body.state === 'success')!;
  assert.equal(success.body.environment_url, `http://site.localhost:${slipway.edgePort}`);
  assert.equal(success.body.log_url, `http://localhost:${new URL(slipway.apiUrl).port}/p/site/d/${id}`);
  const commit = github.requests.filter((r) => r.operationId === 'repos/create-commit-status').at(-1)!;
  assert.equal(commit.path, `/repos/Codertocat/Hello-World/statuses/${sha}`);
  assert.deepEqual([commit.body.state, commit.body.context], ['success', 'slipway/site/production']);
  assert.deepEqual(github.errors, []);
});
