import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { GetDistributionConfigCommand } from '@aws-sdk/client-cloudfront';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { type AwsClients, awsClients } from '../../src/targets/aws/index.js';
import { type AwsStandIn, startAwsStandIn } from '../helpers/aws/index.js';
import { makeRepo } from '../helpers/git.js';
import { tempDir } from '../helpers/paths.js';
import { type RunningS3, startS3rver } from '../helpers/s3rver.js';
import { edgeGet, type RunningSlipway, startSlipwayProcess, waitForStatus } from '../helpers/slipway.js';

// A real `slipway up` deploying a static site to the AWS target: the worker's build goes live on
// AWS (S3 via s3rver, CloudFront via the stand-in), rollback moves the asset root back, and a
// failure on AWS fails the deployment with AWS's code while production stays; a static preview
// is served by Slipway's own edge.
let dir: { path: string; cleanup: () => Promise<void> };
let s3: RunningS3;
let aws: AwsStandIn;
let slipway: RunningSlipway;
let clients: AwsClients;
let repo: Awaited<ReturnType<typeof makeRepo>>;

before(async () => {
  dir = await tempDir('slipway-aws-worker-');
  s3 = await startS3rver();
  aws = await startAwsStandIn({ s3 });
  clients = awsClients({ kind: 'keys', region: 'eu-west-1', ...aws.credentials, updatedAt: 0 }, { api: aws.endpoint, s3: aws.endpoint, maxAttempts: 1 });
  repo = await makeRepo(join(dir.path, 'repo'));
  await repo.commit({ 'index.html': '<h1>one</h1>', 'about.html': '<h1>about</h1>' }, 'one');
  await repo.push();
  slipway = await startSlipwayProcess(join(dir.path, 'data'), ['--roles', 'api,worker,edge'], { SLIPWAY_AWS_ENDPOINT: aws.endpoint, SLIPWAY_AWS_S3_ENDPOINT: aws.endpoint });
  assert.equal((await slipway.api('POST', '/api/v1/teams', { slug: 'acme' })).status, 201);
  assert.equal((await slipway.api('POST', '/api/v1/projects', { name: 'site', repoUrl: repo.url, team: 'acme' })).status, 201);
  assert.equal((await slipway.api('PUT', '/api/v1/teams/acme/aws', { region: 'eu-west-1', ...aws.credentials })).status, 200);
  assert.equal((await slipway.api('PUT', '/api/v1/projects/site/target', { target: 'aws' })).status, 200);
});
after(async () => {
  await slipway?.stop();
  clients?.destroy();
  await aws?.close();
  await s3?.cleanup();
  await dir?.cleanup();
});

async function deploy(ref = 'main'): Promise<any> {
  const made = await slipway.api('POST', '/api/v1/projects/site/deployments', { ref });
  assert.ok(made.status === 201 || made.status === 202, JSON.stringify(made.body));
  return waitForStatus(slipway, made.body.id, ['ready', 'failed']);
}

async function originPath(): Promise<string | undefined> {
  const { body } = await slipway.api('GET', '/api/v1/projects/site/target');
  const config = await clients.cloudfront.send(new GetDistributionConfigCommand({ Id: body.targets[0].resources.distributionId }));
  return config.DistributionConfig?.Origins?.Items?.find((o) => o.Id === 'slipway-assets')?.OriginPath;
}

let first: string;
let second: string;

test('a push to a project on AWS goes live on S3 + CloudFront, its steps recorded with timings', async () => {
  const d = await deploy();
  assert.equal(d.status, 'ready', `${JSON.stringify(d.error)}\n${slipway.output()}`);
  first = d.id;
  const { body } = await slipway.api('GET', `/api/v1/deployments/${first}/aws`);
  assert.deepEqual(
    body.aws.steps.map((s: { name: string }) => s.name),
    ['resources', 'upload', 'go-live', 'invalidate'],
  );
  const target = (await slipway.api('GET', '/api/v1/projects/site/target')).body.targets[0].resources;
  const head = await clients.s3.send(new HeadObjectCommand({ Bucket: target.bucket, Key: `deployments/${first}/index.html` }));
  assert.equal(head.CacheControl, 'public,max-age=0,must-revalidate');
  assert.equal(await originPath(), `/deployments/${first}`);
});

test('rollback moves the asset root back without a build', async () => {
  await repo.commit({ 'index.html': '<h1>two</h1>' }, 'two');
  await repo.push();
  const d = await deploy();
  assert.equal(d.status, 'ready', JSON.stringify(d.error));
  second = d.id;
  assert.equal(await originPath(), `/deployments/${second}`);
  const rolled = await slipway.api('POST', '/api/v1/projects/site/rollback', { deploymentId: first });
  assert.equal(rolled.status, 200, JSON.stringify(rolled.body));
  assert.equal(await originPath(), `/deployments/${first}`);
  assert.equal((await slipway.api('POST', `/api/v1/deployments/${second}/promote`, {})).status, 200);
  assert.equal(await originPath(), `/deployments/${second}`);
});

test('expired credentials fail the deployment with the AWS code, and production stays', async () => {
  await repo.commit({ 'index.html': '<h1>three</h1>' }, 'three');
  await repo.push();
  aws.failNext('cloudfront', 'GetDistributionConfig', { code: 'ExpiredTokenException', status: 400, message: 'The security token included in the request is expired' });
  const d = await deploy();
  assert.equal(d.status, 'failed');
  assert.equal(d.error.code, 'AWS_DEPLOY_FAILED');
  assert.match(d.error.message, /go-live failed: ExpiredTokenException/);
  const record = (await slipway.api('GET', `/api/v1/deployments/${d.id}/aws`)).body.aws;
  assert.match(record.error.hint, /slipway aws set/);
  assert.equal(await originPath(), `/deployments/${second}`);
  assert.equal((await slipway.api('GET', '/api/v1/projects/site')).body.productionDeploymentId ?? second, second);
});

test("a static site's preview is served by Slipway's edge at its preview URL; promoting it moves production on AWS without a build", async () => {
  await repo.checkout('docs', true);
  await repo.commit({ 'index.html': '<h1>docs preview</h1>' }, 'docs');
  await repo.push('docs');
  await repo.checkout('main');
  const production = await originPath();
  const calls = aws.calls.length;
  const d = await deploy('docs');
  assert.equal(d.status, 'ready', JSON.stringify(d.error));
  assert.equal(d.environment, 'preview');
  assert.deepEqual(
    aws.calls.slice(calls).map((c) => c.operation),
    [],
    'no Lambda or CloudFront call',
  );
  const record = (await slipway.api('GET', `/api/v1/deployments/${d.id}/aws`)).body.aws;
  assert.equal(record.servedBy.target, 'edge');
  // the host of its branch preview (the worker's config has no bound port under --edge-port 0, the API's has)
  const host = new URL(d.branchUrl).hostname;
  assert.equal(new URL(record.servedBy.url).hostname, host);
  const page = await edgeGet(slipway.edgePort, host);
  assert.equal(page.status, 200);
  assert.match(page.text, /docs preview/);
  assert.equal(await originPath(), production, 'production on AWS stays');
  const logs = (await slipway.api('GET', `/api/v1/deployments/${d.id}/logs`)).body.lines.map((l: { text: string }) => l.text);
  assert.ok(
    logs.some((l: string) => l.includes(`Slipway's edge serves it at ${record.servedBy.url}`)),
    logs.join('\n'),
  );
  // its files are on S3, so a promote is the asset root again: no build, no upload
  const { body } = await slipway.api('GET', '/api/v1/projects/site/target');
  const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: body.targets[0].resources.bucket, Prefix: `deployments/${d.id}/` }));
  assert.deepEqual(
    listed.Contents?.map((o) => o.Key),
    [`deployments/${d.id}/about.html`, `deployments/${d.id}/index.html`],
  );
  const promoted = await slipway.api('POST', `/api/v1/deployments/${d.id}/promote`, {});
  assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
  assert.equal(await originPath(), `/deployments/${d.id}`);
});
