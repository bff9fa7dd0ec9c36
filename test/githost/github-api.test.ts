import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, test } from 'node:test';
import { appJwt } from '../../src/githost/index.js';
import { jwtProblems, startGithubApi, type LocalGithubApi } from '../helpers/github-api.js';
import { matchOperation, responseProblems, successAnswer } from '../helpers/github-openapi.js';

// The local GitHub API refuses what GitHub's description does not allow: without that, the
// conversation tests would pass against requests GitHub would reject.

let api: LocalGithubApi;
before(async () => {
  api = await startGithubApi({ token: 'ghp_ok' });
});
after(() => api.close());

async function call(method: string, path: string, body?: unknown, auth = 'Bearer ghp_ok') {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { authorization: auth, 'user-agent': 'test', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? null : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

test('a request GitHub allows gets an answer shaped by the description', async () => {
  const made = await call('POST', '/repos/acme/site/deployments', { ref: 'main', environment: 'production', required_contexts: [] });
  assert.equal(made.status, 201);
  assert.equal(typeof made.body.id, 'number');
  assert.equal(typeof made.body.node_id, 'string');
  const status = await call('POST', `/repos/acme/site/deployments/${made.body.id}/statuses`, { state: 'queued', log_url: 'http://x.test/log' });
  assert.equal(status.status, 201);
  assert.equal(status.body.state, 'queued');
  assert.deepEqual(api.errors, []);
});

test('what the description does not allow is refused with the reason and recorded', async () => {
  const cases: Array<[string, string, unknown, string, RegExp]> = [
    ['POST', '/repos/acme/site/deployments/1/statuses', { state: 'done' }, 'Bearer ghp_ok', /must be equal to one of the allowed values/],
    ['POST', '/repos/acme/site/deployments/1/statuses', { state: 'success', enviroment_url: 'http://x' }, 'Bearer ghp_ok', /additional properties \(enviroment_url\)/],
    ['POST', '/repos/acme/site/deployments', { environment: 'production' }, 'Bearer ghp_ok', /must have required property 'ref'/],
    ['POST', '/repos/acme/site/deployments/abc/statuses', { state: 'success' }, 'Bearer ghp_ok', /deployment_id must be integer/],
    ['GET', '/repos/acme/site/issues/1/comments?per_pag=5', undefined, 'Bearer ghp_ok', /query parameter per_pag/],
    ['POST', '/repos/acme/site/not-a-route', {}, 'Bearer ghp_ok', /no operation/],
    ['POST', '/repos/acme/site/statuses/abc', { state: 'pending' }, 'Basic xyz', /Authorization must be/],
    ['POST', '/repos/acme/site/statuses/abc', { state: 'pending' }, 'Bearer wrong', /bad credentials/],
  ];
  for (const [method, path, body, auth, reason] of cases) {
    const before = api.errors.length;
    const answer = await call(method, path, body, auth);
    assert.equal(answer.status, 422, `${method} ${path}`);
    assert.match(answer.body.errors.join('; '), reason);
    assert.equal(api.errors.length, before + 1);
  }
  api.errors.length = 0;
});

test('an App JWT is checked: signed by the App key, its own id, at most ten minutes', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  assert.deepEqual(jwtProblems(appJwt('12', privateKey), '12', publicKey), []);
  assert.match(jwtProblems(appJwt('12', other.privateKey), '12', publicKey).join(), /signature/);
  assert.match(jwtProblems(appJwt('13', privateKey), '12', publicKey).join(), /iss/);
  assert.match(jwtProblems(appJwt('12', privateKey, Date.now() - 700_000), '12', publicKey).join(), /expired/);
  assert.match(jwtProblems(appJwt('12', privateKey, Date.now() + 120_000), '12', publicKey).join(), /iat|ten minutes/);
});

test('the generated answers are valid against the response schemas of the operations Slipway uses', () => {
  const used: Array<[string, string]> = [
    ['POST', '/repos/a/b/deployments'],
    ['POST', '/repos/a/b/deployments/1/statuses'],
    ['POST', `/repos/a/b/statuses/${'a'.repeat(40)}`],
    ['GET', '/repos/a/b/issues/1/comments'],
    ['POST', '/repos/a/b/issues/1/comments'],
    ['PATCH', '/repos/a/b/issues/comments/1'],
    ['GET', '/repos/a/b/installation'],
    ['POST', '/app/installations/1/access_tokens'],
  ];
  for (const [method, path] of used) {
    const { operation } = matchOperation(method, path)!;
    assert.deepEqual(responseProblems(operation, successAnswer(operation).body), [], `${method} ${path}`);
  }
});
