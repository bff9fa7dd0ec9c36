import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeRepo } from '../helpers/git.js';
import { tempDir } from '../helpers/paths.js';
import { callApi, pushPayload, sendWebhook, startSlipwayProcess, TOKEN, type RunningSlipway } from '../helpers/slipway.js';

// Hostile or odd input at the edges of the API, over real HTTP against an api-only process:
// each gets the documented error shape {"error":{"code","message","hint"}} and status.
let dir: Awaited<ReturnType<typeof tempDir>>;
let slipway: RunningSlipway;
let repoUrl: string;
let secret: string;
let sha: string;

before(async () => {
  dir = await tempDir();
  const repo = await makeRepo(join(dir.path, 'repo'));
  sha = await repo.commit({ 'index.html': '<h1>hi</h1>' }, 'first');
  await repo.push();
  repoUrl = repo.url;
  slipway = await startSlipwayProcess(join(dir.path, 'data'), ['--roles', 'api']);
  const created = await slipway.api('POST', '/api/v1/projects', { name: 'edges', repoUrl });
  assert.equal(created.status, 201);
  secret = created.body.webhookSecret;
});

after(async () => {
  await slipway?.stop();
  await dir?.cleanup();
});

function assertShape(res: { status: number; body: any }, status: number, code: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.error.code, code);
  assert.equal(typeof res.body.error.message, 'string');
  assert.ok(typeof res.body.error.hint === 'string' && res.body.error.hint.length > 0, 'the error says what to do');
}

test('PATCH with "constructor" or "__proto__" keys is a 400 VALIDATION, and changes nothing', async () => {
  for (const raw of ['{"constructor": 1}', '{"__proto__": {"buildCommand": "evil"}}', '{"toString": "x"}']) {
    const res = await slipway.api('PATCH', '/api/v1/projects/edges', raw);
    assertShape(res, 400, 'VALIDATION');
    assert.match(res.body.error.message, /Unknown setting/);
  }
  const p = await slipway.api('GET', '/api/v1/projects/edges');
  assert.equal(p.body.buildCommand, null);
});

test('an env variable named "__proto__" is refused with 400 instead of vanishing', async () => {
  const res = await slipway.api('PUT', '/api/v1/projects/edges/env/__proto__', { value: 'kept?' });
  assertShape(res, 400, 'VALIDATION');
  const list = await slipway.api('GET', '/api/v1/projects/edges/env');
  assert.deepEqual(list.body.env, []);
});

test("a URL that does not decode gets our error shape, not the framework's", async () => {
  for (const path of ['/%E0%A4%A', '/api/v1/projects/%E0%A4%A']) {
    const res = await callApi(slipway.apiUrl, 'GET', path);
    assertShape(res, 400, 'BAD_REQUEST');
    assert.equal(res.body.statusCode, undefined, 'no Fastify fields at the top level');
  }
});

test('a webhook signature with trailing junk is refused with 401', async () => {
  const raw = JSON.stringify(pushPayload({ ref: 'refs/heads/main', after: sha }));
  const good = `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
  for (const signature of [`${good}junk`, `${good}00`, `${good}=`]) {
    const res = await sendWebhook(slipway.apiUrl, 'edges', secret, undefined, { rawBody: raw, signature });
    assertShape(res, 401, 'BAD_SIGNATURE');
  }
  const list = await slipway.api('GET', '/api/v1/projects/edges/deployments');
  assert.equal(list.body.deployments.length, 0);
  const res = await sendWebhook(slipway.apiUrl, 'edges', secret, undefined, { rawBody: raw, signature: good.toUpperCase().replace('SHA256=', 'sha256=') });
  assert.equal(res.status, 202, 'upper-case hex is still the same signature');
});

test('the Authorization scheme is case-insensitive; the token is not', async () => {
  for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
    const res = await callApi(slipway.apiUrl, 'GET', '/api/v1/projects', undefined, { authorization: `${scheme} ${TOKEN}` });
    assert.equal(res.status, 200, scheme);
  }
  const wrong = await callApi(slipway.apiUrl, 'GET', '/api/v1/projects', undefined, { authorization: `bearer ${TOKEN.toUpperCase()}` });
  assertShape(wrong, 401, 'UNAUTHORIZED');
  const basic = await callApi(slipway.apiUrl, 'GET', '/api/v1/projects', undefined, { authorization: `Basic ${TOKEN}` });
  assertShape(basic, 401, 'UNAUTHORIZED');
});

test('a repoUrl with spaces around it is a 400 with a hint, not trimmed into an option', async () => {
  for (const url of [`  ${repoUrl}`, `${repoUrl} `, ' --upload-pack=touch /tmp/x']) {
    const res = await slipway.api('POST', '/api/v1/projects', { name: 'spaced', repoUrl: url });
    assertShape(res, 400, 'VALIDATION');
    assert.match(res.body.error.message, /repoUrl/);
  }
  const none = await slipway.api('GET', '/api/v1/projects/spaced');
  assert.equal(none.status, 404);
});
