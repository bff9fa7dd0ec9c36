import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { git, makeRepo } from '../helpers/git.js';
import { tempDir } from '../helpers/paths.js';
import { edgeGet, pushPayload, sendWebhook, startSlipwayProcess, waitFor, waitForStatus, type RunningSlipway } from '../helpers/slipway.js';

// A replayed webhook, as an attacker who saw one signed delivery would send it: the same
// signed body with a new delivery id (the id is not signed). Real bare repository, `slipway up`
// as a real process, the edge over a socket.
let dir: Awaited<ReturnType<typeof tempDir>>;
let repo: Awaited<ReturnType<typeof makeRepo>>;
let slipway: RunningSlipway;
let secret: string;
const host = 'replay.localhost';

before(async () => {
  dir = await tempDir();
  repo = await makeRepo(join(dir.path, 'repo'));
  slipway = await startSlipwayProcess(join(dir.path, 'data'), ['--edge-workers', '0']);
  const created = await slipway.api('POST', '/api/v1/projects', { name: 'replay', repoUrl: repo.url });
  assert.equal(created.status, 201);
  secret = created.body.webhookSecret;
});

after(async () => {
  await slipway?.stop();
  await dir?.cleanup();
});

async function served(version: string): Promise<string> {
  const page = await waitFor(
    `the edge to serve ${version}`,
    async () => {
      const r = await edgeGet(slipway.edgePort, host, '/');
      return r.status === 200 && r.text.includes(version) ? r : undefined;
    },
    10_000,
  );
  return String(page.headers['x-slipway-deployment']);
}

test('an old signed push sent again with a new delivery id is skipped with the reason; production stays on the newer commit', async () => {
  const v1 = await repo.commit({ 'index.html': '<h1>version one</h1>' }, 'v1');
  await repo.push();
  const body1 = JSON.stringify(pushPayload({ ref: 'refs/heads/main', after: v1, message: 'v1' }));
  const first = await sendWebhook(slipway.apiUrl, 'replay', secret, undefined, { rawBody: body1, delivery: 'gh-1' });
  assert.equal(first.status, 202);
  assert.equal((await waitForStatus(slipway, first.body.deploymentId, ['ready', 'failed', 'canceled'])).status, 'ready');
  assert.equal(await served('version one'), first.body.deploymentId);

  const v2 = await repo.commit({ 'index.html': '<h1>version two</h1>' }, 'v2');
  await repo.push();
  const second = await sendWebhook(slipway.apiUrl, 'replay', secret, pushPayload({ ref: 'refs/heads/main', after: v2, before: v1, message: 'v2' }), { delivery: 'gh-2' });
  assert.equal((await waitForStatus(slipway, second.body.deploymentId, ['ready', 'failed', 'canceled'])).status, 'ready');
  assert.equal(await served('version two'), second.body.deploymentId);

  // the replay: v1's exact signed bytes, a delivery id never seen
  const replay = await sendWebhook(slipway.apiUrl, 'replay', secret, undefined, { rawBody: body1, delivery: 'attacker-1' });
  assert.equal(replay.status, 202, 'the signature is valid, so the delivery is accepted');
  assert.notEqual(replay.body.deploymentId, first.body.deploymentId);
  const skipped = await waitForStatus(slipway, replay.body.deploymentId, ['ready', 'failed', 'canceled']);
  assert.equal(skipped.status, 'canceled');
  assert.equal(skipped.error.code, 'STALE_PUSH');
  assert.match(skipped.error.message, new RegExp(`${v1.slice(0, 12)} is no longer the tip of main \\(main is at ${v2.slice(0, 12)} now\\)`));
  assert.equal(skipped.isProduction, false);
  const logs = await slipway.api('GET', `/api/v1/deployments/${replay.body.deploymentId}/logs`);
  assert.ok(
    logs.body.lines.some((l: { text: string }) => l.text.includes('stale or replayed push is not built')),
    'the log says why',
  );
  assert.equal(
    logs.body.lines.some((l: { text: string }) => l.text.startsWith('Fetching')),
    false,
    'nothing was fetched or built',
  );

  const project = await slipway.api('GET', '/api/v1/projects/replay');
  assert.equal(project.body.productionDeploymentId, second.body.deploymentId);
  assert.equal(await served('version two'), second.body.deploymentId);
  const list = await slipway.api('GET', '/api/v1/projects/replay/deployments');
  assert.deepEqual(
    list.body.deployments.map((d: { status: string }) => d.status),
    ['canceled', 'ready', 'ready'],
    'the replay is listed, skipped',
  );

  // a person can still roll back on purpose
  const rolled = await slipway.api('POST', '/api/v1/projects/replay/rollback');
  assert.equal(rolled.status, 200);
  assert.equal(await served('version one'), first.body.deploymentId);
});

test('a push whose branch was deleted before the build is skipped too', async () => {
  await repo.checkout('gone', true);
  const sha = await repo.commit({ 'index.html': '<h1>gone</h1>' }, 'gone');
  await repo.push('gone');
  const patched = await slipway.api('PATCH', '/api/v1/projects/replay', { productionBranch: 'gone' });
  assert.equal(patched.status, 200);
  // delete the branch on the host, then deliver its push
  await git(repo.work, 'push', '--quiet', 'origin', ':refs/heads/gone');
  const res = await sendWebhook(slipway.apiUrl, 'replay', secret, pushPayload({ ref: 'refs/heads/gone', after: sha }));
  assert.equal(res.status, 202);
  const d = await waitForStatus(slipway, res.body.deploymentId, ['ready', 'failed', 'canceled']);
  assert.equal(d.status, 'canceled');
  assert.equal(d.error.code, 'STALE_PUSH');
  assert.match(d.error.message, /branch gone no longer exists/);
});
