import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { branchSlug } from '../../src/deployments/index.js';
import { git, makeRepo } from '../helpers/git.js';
import { tempDir } from '../helpers/paths.js';
import { edgeGet, startSlipwayProcess, waitFor, waitForStatus, type RunningSlipway } from '../helpers/slipway.js';
import { githubExample, sendGithub } from '../hooks/send.js';

// Previews end to end: a real bare repository of a plain static site, `slipway up` as a real
// process (worker, and the edge in a worker process that learns of alias changes by polling),
// GitHub-signed webhooks with GitHub's own example payloads, and the edge over a socket. The
// build command copies site/ and writes the GREETING variable into env.txt, so a page says
// which commit it is and whether the build saw the project's variables.
let dir: Awaited<ReturnType<typeof tempDir>>;
let repo: Awaited<ReturnType<typeof makeRepo>>;
let slipway: RunningSlipway;
let secret: string;
const PROJECT = 'prev';
const production = `${PROJECT}.localhost`;
const hostOf = (branch: string) => `${branchSlug(branch, PROJECT)}--${PROJECT}.localhost`;
const page = (text: string) => ({ 'site/index.html': `<!doctype html><h1>${text}</h1>` });

before(async () => {
  dir = await tempDir();
  repo = await makeRepo(join(dir.path, 'repo'));
  slipway = await startSlipwayProcess(join(dir.path, 'data'), ['--edge-workers', '1']);
  const created = await slipway.api('POST', '/api/v1/projects', {
    name: PROJECT,
    repoUrl: repo.url,
    buildCommand: 'mkdir -p out && cp -R site/. out/ && printf %s "$GREETING" > out/env.txt',
    outputDirectory: 'out',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  secret = created.body.webhookSecret;
  assert.equal((await slipway.api('PUT', `/api/v1/projects/${PROJECT}/env/GREETING`, { value: 'hello-from-the-project' })).status < 300, true);
});

after(async () => {
  await slipway?.stop();
  await dir?.cleanup();
});

/** GitHub's push example, for our branch and commits. */
function pushOf(branch: string, after: string, before = '0'.repeat(40), files?: string[]) {
  const p = githubExample('push', (x) => x.ref === 'refs/heads/master');
  Object.assign(p, { ref: `refs/heads/${branch}`, before, after, deleted: false, created: /^0+$/.test(before) });
  p.head_commit = { ...p.head_commit, id: after, message: `commit on ${branch}` };
  p.commits = [{ ...p.head_commit, added: files ?? [], modified: [], removed: [] }];
  if (files === undefined) p.commits = [];
  return p;
}

/** GitHub's pull_request example for `action`, from `ref` at `sha` (a fork's when `fork` is set). */
function prOf(action: string, number: number, ref: string, sha: string, before?: string, fork?: string) {
  const p = githubExample('pull_request', (x) => x.action === action);
  p.number = number;
  p.pull_request.number = number;
  Object.assign(p.pull_request.head, { ref, sha });
  if (fork !== undefined) p.pull_request.head.repo = { ...p.pull_request.head.repo, full_name: fork, fork: true };
  if (before !== undefined) p.before = before;
  return p;
}

async function commitTo(branch: string, files: Record<string, string>, from = 'main'): Promise<string> {
  await git(repo.work, 'checkout', '--quiet', '-B', branch, from);
  const sha = await repo.commit(files, `on ${branch}`);
  await repo.push(branch);
  return sha;
}

async function ready(id: string): Promise<void> {
  const d = await waitForStatus(slipway, id, ['ready', 'failed', 'canceled']);
  assert.equal(d.status, 'ready', JSON.stringify(d.error));
}

/** What the edge serves at `host` + `path`, once it says `expect` (a status or a text). */
async function serves(host: string, expect: string | number, path = '/'): Promise<void> {
  await waitFor(
    `${host}${path} to give ${expect}`,
    async () => {
      const r = await edgeGet(slipway.edgePort, host, path);
      return (typeof expect === 'number' ? r.status === expect : r.status === 200 && r.text.includes(expect)) ? true : undefined;
    },
    10_000,
  );
}

const github = (event: string, payload: unknown) => sendGithub(slipway.apiUrl, PROJECT, secret, event, payload);
let mainSha: string;

test('production, then branch previews at their own hosts: unicode, `a/b` beside `a-b`; production never changes', async () => {
  mainSha = await repo.commit(page('production v1'), 'v1');
  await repo.push();
  const prod = await github('push', pushOf('main', mainSha));
  await ready(prod.body.deploymentId);
  await serves(production, 'production v1');
  await serves(production, 'hello-from-the-project', '/env.txt');

  const branches = { 'feature/Über-Login': 'über preview', 'a/b': 'slash preview', 'a-b': 'dash preview' };
  const ids: string[] = [];
  for (const [branch, text] of Object.entries(branches)) {
    const sha = await commitTo(branch, page(text));
    const res = await github('push', pushOf(branch, sha));
    assert.equal(res.status, 202, JSON.stringify(res.body));
    ids.push(res.body.deploymentId);
  }
  for (const id of ids) await ready(id);
  assert.equal(hostOf('a-b'), `a-b--${PROJECT}.localhost`);
  assert.match(hostOf('feature/Über-Login'), /^feature-uber-login-[0-9a-f]{6}--/);
  for (const [branch, text] of Object.entries(branches)) await serves(hostOf(branch), text);
  const d = (await slipway.api('GET', `/api/v1/deployments/${ids[0]}`)).body;
  assert.equal(new URL(d.branchUrl).hostname, hostOf('feature/Über-Login'));
  await serves(production, 'production v1');

  // the branch is deleted: its preview goes, the other branches' stay
  const deleted = await github('push', { ...pushOf('a-b', '0'.repeat(40), ids[2]), deleted: true, head_commit: null });
  assert.equal(deleted.body.removed, 'branch:a-b');
  await serves(hostOf('a-b'), 404);
  await serves(hostOf('a/b'), 'slash preview');
});

test('a pull request lifecycle: opened, two pushes, closed; pr-<n> follows the newest and then goes', async () => {
  const prHost = `pr-7--${PROJECT}.localhost`;
  const steps = ['pr version 1', 'pr version 2', 'pr version 3'];
  let previous: string | undefined;
  for (const [i, text] of steps.entries()) {
    const sha = await commitTo('feature/pr', page(text), i === 0 ? 'main' : 'feature/pr');
    // GitHub sends both for every push to a pull request's branch
    const push = await github('push', pushOf('feature/pr', sha, previous));
    const pr = await github('pull_request', i === 0 ? prOf('opened', 7, 'feature/pr', sha) : prOf('synchronize', 7, 'feature/pr', sha, previous));
    assert.equal(pr.body.deploymentId, push.body.deploymentId, 'one build serves the push and the pull request');
    await ready(pr.body.deploymentId);
    await serves(prHost, text);
    await serves(prHost, 'hello-from-the-project', '/env.txt');
    previous = sha;
  }
  await serves(hostOf('feature/pr'), 'pr version 3');

  const closed = await github('pull_request', prOf('closed', 7, 'feature/pr', previous!));
  assert.equal(closed.body.removed, 'pr:7');
  await serves(prHost, 404);
  // nothing else changes: the branch's own preview and production stay
  await serves(hostOf('feature/pr'), 'pr version 3');
  await serves(production, 'production v1');
});

test("a fork's pull request is ignored by default; allowed, it builds without the project's variables", async () => {
  // GitHub keeps a fork's head at refs/pull/<n>/head of the base repository
  await git(repo.work, 'checkout', '--quiet', '-B', 'fork-work', 'main');
  const sha = await repo.commit(page('from a fork'), 'fork change');
  await git(repo.work, 'push', '--quiet', 'origin', 'HEAD:refs/pull/8/head');
  const ignored = await github('pull_request', prOf('opened', 8, 'main', sha, undefined, 'mallory/Hello-World'));
  assert.match(ignored.body.ignored, /fork/);
  assert.equal((await slipway.api('PATCH', `/api/v1/projects/${PROJECT}`, { forkPreviews: true })).status, 200);
  const built = await github('pull_request', prOf('reopened', 8, 'main', sha, undefined, 'mallory/Hello-World'));
  await ready(built.body.deploymentId);
  const forkHost = `pr-8--${PROJECT}.localhost`;
  await serves(forkHost, 'from a fork');
  const env = await edgeGet(slipway.edgePort, forkHost, '/env.txt');
  assert.deepEqual([env.status, env.text], [200, ''], 'the build saw no GREETING');
  await serves(production, 'production v1');
  await serves(production, 'hello-from-the-project', '/env.txt');

  // the fork moves on; a replayed delivery of its old head is not built (its head ref says so)
  await repo.commit(page('fork, later'), 'fork change 2');
  await git(repo.work, 'push', '--quiet', '--force', 'origin', 'HEAD:refs/pull/8/head');
  const replay = await github('pull_request', prOf('synchronize', 8, 'main', sha, undefined, 'mallory/Hello-World'));
  const stale = await waitForStatus(slipway, replay.body.deploymentId, ['ready', 'failed', 'canceled']);
  assert.deepEqual([stale.status, stale.error?.code], ['canceled', 'STALE_PUSH']);
  await serves(forkHost, 'from a fork');
});

test('the ignored build step by paths: a push that changes nothing under site/ is skipped with the reason', async () => {
  assert.equal((await slipway.api('PATCH', `/api/v1/projects/${PROJECT}`, { ignoredBuildStep: { paths: ['site'] } })).status, 200);
  const before = (await slipway.api('GET', `/api/v1/projects/${PROJECT}/deployments`)).body.deployments.length;
  const docs = await commitTo('main', { 'README.md': 'docs only' });
  const skipped = await github('push', pushOf('main', docs, mainSha, ['README.md']));
  assert.match(skipped.body.skipped, /changes none of site/);
  const site = await commitTo('main', page('production v2'));
  const built = await github('push', pushOf('main', site, docs, ['site/index.html']));
  await ready(built.body.deploymentId);
  await serves(production, 'production v2');
  assert.equal((await slipway.api('GET', `/api/v1/projects/${PROJECT}/deployments`)).body.deployments.length, before + 1);
});

test('the ignored build step by command: run in the sandbox with the commit checked out, exit 0 skips the build', async () => {
  assert.equal((await slipway.api('PATCH', `/api/v1/projects/${PROJECT}`, { ignoredBuildStep: { command: 'test -f site/skip-me' } })).status, 200);
  const skipSha = await commitTo('feature/cmd', { ...page('never served'), 'site/skip-me': '' });
  const skipped = await github('push', pushOf('feature/cmd', skipSha));
  const d = await waitForStatus(slipway, skipped.body.deploymentId, ['ready', 'failed', 'canceled']);
  assert.equal(d.status, 'canceled');
  assert.equal(d.error.code, 'BUILD_SKIPPED');
  assert.match(d.error.message, /"test -f site\/skip-me" exited 0/);
  await serves(hostOf('feature/cmd'), 404);

  await git(repo.work, 'rm', '--quiet', 'site/skip-me');
  const buildSha = await repo.commit(page('command said build'), 'build this one');
  await repo.push('feature/cmd');
  const built = await github('push', pushOf('feature/cmd', buildSha, skipSha));
  await ready(built.body.deploymentId);
  await serves(hostOf('feature/cmd'), 'command said build');
  await slipway.api('PATCH', `/api/v1/projects/${PROJECT}`, { ignoredBuildStep: null });
});
