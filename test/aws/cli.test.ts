import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { ADMIN, type ApiFixture, startApi } from '../auth/fixture.js';
import { runCli } from '../cli/run-cli.js';
import { type AwsStandIn, startAwsStandIn } from '../helpers/aws/index.js';

// `slipway aws` and `slipway target` as a person runs them: the real binary against the API on
// a socket, the API against the AWS stand-in.
let api: ApiFixture;
let aws: AwsStandIn;
let url: string;
let owner: { token: string };

before(async () => {
  aws = await startAwsStandIn();
  api = await startApi({ env: { SLIPWAY_AWS_ENDPOINT: aws.endpoint } });
  await api.app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}`;
  assert.equal((await api.call('POST', '/api/v1/teams', { auth: ADMIN, body: { slug: 'acme' } })).status, 201);
  owner = await api.person('own@example.com', 'acme', 'owner');
  assert.equal((await api.call('POST', '/api/v1/projects', { auth: owner.token, body: { name: 'shop', repoUrl: 'file:///nowhere', team: 'acme' } })).status, 201);
});
after(async () => {
  await api?.close();
  await aws?.close();
});

const slipway = (args: string[], env: Record<string, string> = {}) => runCli([...args, '--url', url, '--token', owner.token], { env, timeoutMs: 30_000 });

test('aws set takes the secret from the environment, show masks it, check prints what is missing', async () => {
  const set = await slipway(['aws', 'set', 'acme', '--region', 'eu-west-1', '--access-key-id', aws.credentials.accessKeyId], { AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey });
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /acme: access key …USER in eu-west-1/);
  const show = await slipway(['aws', 'show', 'acme', '--json']);
  assert.equal(show.code, 0, show.stderr);
  assert.equal(show.stdout.includes(aws.credentials.secretAccessKey), false);
  assert.equal(JSON.parse(show.stdout).aws.kind, 'keys');

  const ok = await slipway(['aws', 'check', 'acme']);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /Every action of the documented policy is allowed/);
  aws.identity.denied.set(aws.userArn, new Set(['lambda:UpdateAlias']));
  const missing = await slipway(['aws', 'check', 'acme']);
  aws.identity.denied.clear();
  assert.equal(missing.code, 1);
  assert.match(missing.stdout, /Missing 1 action\(s\) of docs\/aws-iam-policy.json:\n {2}lambda:UpdateAlias/);

  const rm = await slipway(['aws', 'rm', 'acme']);
  assert.equal(rm.code, 0, rm.stderr);
  const gone = await slipway(['aws', 'check', 'acme']);
  assert.notEqual(gone.code, 0);
  assert.match(gone.stderr, /no AWS access/);
});

test('target set and show', async () => {
  const set = await slipway(['target', 'set', 'shop', 'aws', '--function-role', 'arn:aws:iam::123456789012:role/slipway-fn']);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /shop now goes live on aws/);
  const show = await slipway(['target', 'show', 'shop']);
  assert.match(show.stdout, /shop goes live on: aws\n {2}\(project\): aws\n {4}functionRoleArn: arn:aws:iam::123456789012:role\/slipway-fn/);
  const bad = await slipway(['target', 'set', 'shop', 'lambda']);
  assert.equal(bad.code, 2);
});
