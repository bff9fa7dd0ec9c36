import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeRepo } from '../helpers/git.js';
import { tempDir } from '../helpers/paths.js';
import { pushPayload, sendWebhook, startSlipwayProcess, type RunningSlipway } from '../helpers/slipway.js';

// Webhook handling over real HTTP against an api-only process (no worker: nothing gets built,
// so every deployment row a test sees was made by the webhook alone).
let dir: Awaited<ReturnType<typeof tempDir>>;
let slipway: RunningSlipway;
let secret: string;
let sha: string;

before(async () => {
  dir = await tempDir();
  const repo = await makeRepo(join(dir.path, 'repo'));
  sha = await repo.commit({ 'index.html': '<h1>hi</h1>' }, 'first');
  await repo.push();
  slipway = await startSlipwayProcess(join(dir.path, 'data'), ['--roles', 'api,edge', '--edge-workers', '0']);
  const created = await slipway.api('POST', '/api/v1/projects', { name: 'hooks', repoUrl: repo.url });
  secret = created.body.webhookSecret;
});

after(async () => {
  await slipway?.stop();
  await dir?.cleanup();
});

async function deploymentCount(): Promise<number> {
  const res = await slipway.api('GET', '/api/v1/projects/hooks/deployments');
  return res.body.deployments.length;
}

const main = () => pushPayload({ ref: 'refs/heads/main', after: sha });

test('a wrong signature is refused with 401 and records nothing', async () => {
  const res = await sendWebhook(slipway.apiUrl, 'hooks', 'not-the-secret', main());
  assert.equal(res.status, 401);
  assert.equal(res.body.error.code, 'BAD_SIGNATURE');
  assert.ok(res.body.error.hint.length > 0, 'the error says what to do');
  const tampered = await sendWebhook(slipway.apiUrl, 'hooks', secret, main(), {
    rawBody: JSON.stringify({ ...main(), after: 'f'.repeat(40) }),
    signature: `sha256=${createHmac('sha256', secret).update(JSON.stringify(main())).digest('hex')}`,
  });
  assert.equal(tampered.status, 401, 'a signature over another body does not count');
  assert.equal(await deploymentCount(), 0);
});

test('a missing signature is refused with 401', async () => {
  const res = await sendWebhook(slipway.apiUrl, 'hooks', undefined, main());
  assert.equal(res.status, 401);
  assert.equal(res.body.error.code, 'BAD_SIGNATURE');
  const malformed = await sendWebhook(slipway.apiUrl, 'hooks', secret, main(), { signature: 'sha256=zz' });
  assert.equal(malformed.status, 401);
  assert.equal(await deploymentCount(), 0);
});

test('ping answers 200', async () => {
  const res = await sendWebhook(slipway.apiUrl, 'hooks', secret, { zen: 'Keep it logically awesome.', hook_id: 1 }, { event: 'ping' });
  assert.equal(res.status, 200);
  assert.equal(res.body.ok, true);
});

test('a push to the production branch makes one deployment; the same delivery again makes none', async () => {
  const first = await sendWebhook(slipway.apiUrl, 'hooks', secret, main(), { delivery: 'delivery-1' });
  assert.equal(first.status, 202);
  assert.match(first.body.deploymentId, /^d[a-z0-9]{11}$/);
  const replay = await sendWebhook(slipway.apiUrl, 'hooks', secret, main(), { delivery: 'delivery-1' });
  assert.equal(replay.status, 202);
  assert.equal(replay.body.deploymentId, first.body.deploymentId);
  assert.equal(await deploymentCount(), 1);
  const d = await slipway.api('GET', `/api/v1/deployments/${first.body.deploymentId}`);
  assert.equal(d.body.status, 'queued');
  assert.equal(d.body.commit.sha, sha);
  assert.equal(d.body.trigger, 'webhook');
});

test('a newer push to the same branch cancels the still-queued older deployment', async () => {
  const older = await slipway.api('GET', '/api/v1/projects/hooks/deployments');
  const newer = await sendWebhook(slipway.apiUrl, 'hooks', secret, main(), { delivery: 'delivery-2' });
  assert.equal(newer.status, 202);
  const was = await slipway.api('GET', `/api/v1/deployments/${older.body.deployments[0].id}`);
  assert.equal(was.body.status, 'canceled');
  assert.match(was.body.error.message, /Superseded/);
});

test('a push to another branch makes a preview deployment; tags, the production branch deleted and other events are ignored', async () => {
  const before = await deploymentCount();
  const other = await sendWebhook(slipway.apiUrl, 'hooks', secret, pushPayload({ ref: 'refs/heads/feature/x', after: sha }));
  assert.equal(other.status, 202);
  const preview = await slipway.api('GET', `/api/v1/deployments/${other.body.deploymentId}`);
  assert.equal(preview.body.target, 'preview');
  assert.equal(preview.body.branch, 'feature/x');
  assert.deepEqual(preview.body.source, { provider: 'github', repo: 'acme/site', headRepo: null });
  const tag = await sendWebhook(slipway.apiUrl, 'hooks', secret, pushPayload({ ref: 'refs/tags/v1.0.0', after: sha }));
  assert.equal(tag.status, 202);
  assert.match(tag.body.ignored, /tag/);
  const deleted = await sendWebhook(slipway.apiUrl, 'hooks', secret, pushPayload({ ref: 'refs/heads/main', after: '0'.repeat(40), deleted: true }));
  assert.equal(deleted.status, 202);
  assert.match(deleted.body.ignored, /production branch main was deleted/);
  const issue = await sendWebhook(slipway.apiUrl, 'hooks', secret, { action: 'opened' }, { event: 'issues' });
  assert.equal(issue.status, 202);
  assert.equal(await deploymentCount(), before + 1);
});

test('bad input gets a clear JSON error: bad JSON 400, unknown project 404, too large 413', async () => {
  const bad = await sendWebhook(slipway.apiUrl, 'hooks', secret, undefined, { rawBody: '{"ref": "refs/heads/main",' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'INVALID_JSON');
  const unknown = await sendWebhook(slipway.apiUrl, 'nope', secret, main());
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error.code, 'PROJECT_NOT_FOUND');
  const huge = await sendWebhook(slipway.apiUrl, 'hooks', secret, undefined, { rawBody: JSON.stringify({ pad: 'x'.repeat(6 * 1024 * 1024) }) });
  assert.equal(huge.status, 413);
  assert.equal(huge.body.error.code, 'PAYLOAD_TOO_LARGE');
  const noDelivery = await fetch(`${slipway.apiUrl}/hooks/github/hooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update('{}').digest('hex')}` },
    body: '{}',
  });
  assert.equal(noDelivery.status, 400);
});

test('GitHub form-encoded deliveries work too', async () => {
  const body = `payload=${encodeURIComponent(JSON.stringify(pushPayload({ ref: 'refs/tags/v2', after: sha })))}`;
  const res = await fetch(`${slipway.apiUrl}/hooks/github/hooks`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-github-event': 'push',
      'x-github-delivery': 'form-1',
      'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
    },
    body,
  });
  assert.equal(res.status, 202);
  assert.match(((await res.json()) as { ignored: string }).ignored, /tag push \(v2\)/);
});

test('a push cancels only the queued deployment it replaced: a replayed old push cannot cancel a newer one', async () => {
  const [a, b, c] = ['a', 'b', 'c'].map((x) => x.repeat(40)) as [string, string, string];
  const newer = await sendWebhook(slipway.apiUrl, 'hooks', secret, pushPayload({ ref: 'refs/heads/main', before: a, after: b }));
  assert.equal(newer.status, 202);
  // an old push (from before `a` to `a`) arrives again with a new delivery id
  const replay = await sendWebhook(slipway.apiUrl, 'hooks', secret, pushPayload({ ref: 'refs/heads/main', before: c, after: a }));
  assert.equal(replay.status, 202);
  const kept = await slipway.api('GET', `/api/v1/deployments/${newer.body.deploymentId}`);
  assert.equal(kept.body.status, 'queued', 'the newer push still builds');
  // the push that moved the branch on from `b` does replace it
  const next = await sendWebhook(slipway.apiUrl, 'hooks', secret, pushPayload({ ref: 'refs/heads/main', before: b, after: c }));
  assert.equal(next.status, 202);
  const replaced = await slipway.api('GET', `/api/v1/deployments/${newer.body.deploymentId}`);
  assert.equal(replaced.body.status, 'canceled');
  assert.match(replaced.body.error.message, /Superseded/);
});
