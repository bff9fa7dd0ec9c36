import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { tempDir } from '../helpers/paths.js';
import { callApi, startSlipwayProcess, type RunningSlipway } from '../helpers/slipway.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let slipway: RunningSlipway;

before(async () => {
  dir = await tempDir();
  slipway = await startSlipwayProcess(join(dir.path, 'data'), ['--roles', 'api']);
});

after(async () => {
  await slipway?.stop();
  await dir?.cleanup();
});

test('every /api/v1 call needs the bearer token', async () => {
  const none = await fetch(`${slipway.apiUrl}/api/v1/projects`);
  assert.equal(none.status, 401);
  assert.equal(((await none.json()) as any).error.code, 'UNAUTHORIZED');
  const wrong = await fetch(`${slipway.apiUrl}/api/v1/projects`, { headers: { authorization: 'Bearer nope' } });
  assert.equal(wrong.status, 401);
  const right = await slipway.api('GET', '/api/v1/projects');
  assert.equal(right.status, 200);
});

test('creating a project validates every field and shows the webhook secret once', async () => {
  const bad = await slipway.api('POST', '/api/v1/projects', { name: 'Bad Name!', repoUrl: 'x' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'VALIDATION');
  assert.match(bad.body.error.hint, /my-site/);
  const noRepo = await slipway.api('POST', '/api/v1/projects', { name: 'ok' });
  assert.equal(noRepo.status, 400);
  assert.match(noRepo.body.error.message, /repoUrl/);
  const outside = await slipway.api('POST', '/api/v1/projects', { name: 'ok', repoUrl: 'file:///x', outputDirectory: '../etc' });
  assert.equal(outside.status, 400);

  const created = await slipway.api('POST', '/api/v1/projects', { name: 'blog', repoUrl: 'https://example.com/blog.git', buildCommand: 'npm run build' });
  assert.equal(created.status, 201);
  assert.equal(created.body.productionBranch, 'main');
  assert.match(created.body.webhookSecret, /^[0-9a-f]{64}$/);
  const again = await slipway.api('POST', '/api/v1/projects', { name: 'blog', repoUrl: 'https://example.com/blog.git' });
  assert.equal(again.status, 409);
  const shown = await slipway.api('GET', '/api/v1/projects/blog');
  assert.equal(shown.status, 200);
  assert.equal(shown.body.webhookSecret, undefined, 'the secret is never returned again');
  assert.equal(JSON.stringify(shown.body).includes(created.body.webhookSecret), false);
});

test('bad bodies and unknown things get JSON errors, never a crash', async () => {
  const badJson = await slipway.api('POST', '/api/v1/projects', '{"name":');
  assert.equal(badJson.status, 400);
  assert.equal(badJson.body.error.code, 'INVALID_JSON');
  const array = await slipway.api('POST', '/api/v1/projects', [1, 2]);
  assert.equal(array.status, 400);
  const text = await fetch(`${slipway.apiUrl}/api/v1/projects`, { method: 'POST', headers: { authorization: 'Bearer test-admin-token-0123456789', 'content-type': 'text/plain' }, body: 'hi' });
  assert.equal(text.status, 415);
  const big = await slipway.api('POST', '/api/v1/projects', { name: 'x', pad: 'y'.repeat(2 * 1024 * 1024) });
  assert.equal(big.status, 413);
  const missing = await slipway.api('GET', '/api/v1/deployments/dnotthere0000');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, 'DEPLOYMENT_NOT_FOUND');
  const route = await slipway.api('GET', '/api/v1/nothing');
  assert.equal(route.status, 404);
  const rollback = await slipway.api('POST', '/api/v1/projects/blog/rollback');
  assert.equal(rollback.status, 409);
  assert.equal(rollback.body.error.code, 'NO_PREVIOUS_DEPLOYMENT');
  const unreachable = await slipway.api('POST', '/api/v1/projects/blog/deployments', { ref: 'main' });
  assert.equal(unreachable.status, 422);
  const badLogs = await callApi(slipway.apiUrl, 'GET', '/api/v1/deployments/dnotthere0000/logs?after=-1');
  assert.equal(badLogs.status, 400);
});

test('GET /healthz answers per role', async () => {
  const res = await fetch(`${slipway.apiUrl}/healthz`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { status: string; roles: Record<string, unknown> };
  assert.equal(body.status, 'ok');
  assert.equal(body.roles.api, 'ok');
  assert.equal(body.roles.worker, undefined, 'this process runs no worker');
});
