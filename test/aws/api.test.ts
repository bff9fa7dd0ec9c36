import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN, type ApiFixture, startApi } from '../auth/fixture.js';
import { type AwsStandIn, startAwsStandIn } from '../helpers/aws/index.js';

// The AWS settings through the API, in-process: a team's access stored encrypted and shown
// masked, `aws check` against the stand-in's STS and IAM, and a project's target per environment.
let api: ApiFixture;
let aws: AwsStandIn;
let owner: { id: string; token: string };
let member: { id: string; token: string };

before(async () => {
  aws = await startAwsStandIn();
  api = await startApi({ env: { SLIPWAY_AWS_ENDPOINT: aws.endpoint } });
  assert.equal((await api.call('POST', '/api/v1/teams', { auth: ADMIN, body: { slug: 'acme' } })).status, 201);
  owner = await api.person('own@example.com', 'acme', 'owner');
  member = await api.person('mem@example.com', 'acme', 'member');
  assert.equal((await api.call('POST', '/api/v1/projects', { auth: owner.token, body: { name: 'shop', repoUrl: 'file:///nowhere', team: 'acme' } })).status, 201);
});
after(async () => {
  delete process.env.AWS_ACCESS_KEY_ID;
  delete process.env.AWS_SECRET_ACCESS_KEY;
  await api?.close();
  await aws?.close();
});

test('a key pair is stored encrypted and never shown; check names the missing actions', async () => {
  const set = await api.call('PUT', '/api/v1/teams/acme/aws', { auth: owner.token, body: { region: 'eu-west-1', ...aws.credentials } });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  assert.deepEqual(
    { kind: set.body.kind, region: set.body.region, accessKeyId: set.body.accessKeyId },
    { kind: 'keys', region: 'eu-west-1', accessKeyId: `…${aws.credentials.accessKeyId.slice(-4)}` },
  );
  const shown = await api.call('GET', '/api/v1/teams/acme/aws', { auth: member.token });
  assert.equal(JSON.stringify(shown.body).includes(aws.credentials.secretAccessKey), false);
  assert.equal(JSON.stringify(shown.body).includes(aws.credentials.accessKeyId), false);
  const row = await api.store.db.selectFrom('team_aws_access').selectAll().executeTakeFirstOrThrow();
  assert.equal(JSON.stringify(row).includes(aws.credentials.secretAccessKey), false, 'the secret is encrypted at rest');

  const ok = await api.call('POST', '/api/v1/teams/acme/aws/check', { auth: member.token });
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body, { ok: true, identity: { account: '123456789012', arn: aws.userArn }, missing: [], problem: null });
  aws.identity.denied.set(aws.userArn, new Set(['cloudfront:CreateInvalidation', 'lambda:PublishVersion']));
  const missing = await api.call('POST', '/api/v1/teams/acme/aws/check', { auth: member.token });
  assert.equal(missing.body.ok, false);
  assert.deepEqual(missing.body.missing, ['lambda:PublishVersion', 'cloudfront:CreateInvalidation']);
  aws.identity.denied.clear();

  const audit = await api.store.db.selectFrom('audit_events').select(['action', 'details']).where('action', '=', 'aws.set').executeTakeFirstOrThrow();
  assert.equal(String(audit.details).includes(aws.credentials.secretAccessKey), false);
});

test('a role is assumed with its external id; a wrong one is a clear problem, not a crash', async () => {
  const roleArn = 'arn:aws:iam::123456789012:role/slipway-deployer';
  aws.identity.roles.set(roleArn, { externalId: 'acme-7f3a' });
  // Slipway's own credentials (the SDK's chain) assume the team's role
  process.env.AWS_ACCESS_KEY_ID = aws.credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = aws.credentials.secretAccessKey;
  const set = await api.call('PUT', '/api/v1/teams/acme/aws', { auth: owner.token, body: { region: 'eu-west-1', roleArn, externalId: 'wrong-id' } });
  assert.deepEqual(set.body.externalId, 'set');
  const refused = await api.call('POST', '/api/v1/teams/acme/aws/check', { auth: member.token });
  assert.equal(refused.body.ok, false);
  assert.equal(refused.body.problem.code, 'AccessDenied');
  await api.call('PUT', '/api/v1/teams/acme/aws', { auth: owner.token, body: { region: 'eu-west-1', roleArn, externalId: 'acme-7f3a' } });
  const ok = await api.call('POST', '/api/v1/teams/acme/aws/check', { auth: member.token });
  assert.equal(ok.body.ok, true, JSON.stringify(ok.body));
  assert.match(ok.body.identity.arn, /assumed-role\/slipway-deployer\//);
});

test('bad access is refused with the field named; a viewer cannot set it', async () => {
  const bad = await api.call('PUT', '/api/v1/teams/acme/aws', { auth: owner.token, body: { region: 'mars-1', accessKeyId: 'x', secretAccessKey: 'y' } });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /region/);
  const both = await api.call('PUT', '/api/v1/teams/acme/aws', { auth: owner.token, body: { region: 'eu-west-1', ...aws.credentials, roleArn: 'arn:aws:iam::123456789012:role/x' } });
  assert.match(both.body.error.message, /not both/);
  assert.equal((await api.call('PUT', '/api/v1/teams/acme/aws', { auth: member.token, body: { region: 'eu-west-1', ...aws.credentials } })).status, 403);
});

test("a project's target is the edge by default, AWS when set, and one environment can differ", async () => {
  const first = await api.call('GET', '/api/v1/projects/shop/target', { auth: member.token });
  assert.deepEqual(first.body, { project: 'shop', target: 'edge', targets: [] });
  const set = await api.call('PUT', '/api/v1/projects/shop/target', { auth: owner.token, body: { target: 'aws', resources: { functionRoleArn: 'arn:aws:iam::123456789012:role/slipway-fn' } } });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  await api.call('PUT', '/api/v1/projects/shop/target', { auth: owner.token, body: { target: 'edge', environment: 'preview' } });
  const now = await api.call('GET', '/api/v1/projects/shop/target', { auth: member.token });
  assert.equal(now.body.target, 'aws');
  assert.deepEqual(
    now.body.targets.map((t: { environment: string | null; target: string }) => [t.environment, t.target]),
    [
      [null, 'aws'],
      ['preview', 'edge'],
    ],
  );
  const bad = await api.call('PUT', '/api/v1/projects/shop/target', { auth: owner.token, body: { target: 'aws', resources: { functionUrl: 'https://x' } } });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /functionUrl cannot be named/);
});
