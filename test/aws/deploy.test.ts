import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { GetDistributionConfigCommand, ListInvalidationsCommand } from '@aws-sdk/client-cloudfront';
import { GetAliasCommand, ListVersionsByFunctionCommand } from '@aws-sdk/client-lambda';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { createDeployment } from '../../src/deployments/index.js';
import { createProject } from '../../src/projects/index.js';
import { Queue } from '../../src/queue/index.js';
import { SecretBox } from '../../src/secrets.js';
import type { Project, Store } from '../../src/store/index.js';
import {
  addDistributionDomain,
  type AwsBuildOutput,
  type AwsClients,
  awsClients,
  requestCertificate,
  deployToAws,
  readAwsRecord,
  resolveTarget,
  saveTargetSetting,
  switchAwsLive,
} from '../../src/targets/aws/index.js';
import { type AwsStandIn, startAwsStandIn } from '../helpers/aws/index.js';
import { forEachBackend, type OpenedStore } from '../helpers/backends.js';
import { tempDir } from '../helpers/paths.js';
import { type RunningS3, startS3rver } from '../helpers/s3rver.js';
import { tinyZip } from './fixtures.js';

// A deployment to the AWS target, driven through the official SDK v3 against the model-checking
// stand-in (Lambda, CloudFront) and a real s3rver (S3), with the record in a real store: what
// it creates, uploads, publishes and switches, asserted through the same APIs.
forEachBackend('deploy to AWS', (backend) => {
  let opened: OpenedStore;
  let store: Store;
  let box: SecretBox;
  let queue: Queue;
  let project: Project;
  let s3: RunningS3;
  let aws: AwsStandIn;
  let clients: AwsClients;
  let dir: { path: string; cleanup: () => Promise<void> };
  const roleArn = 'arn:aws:iam::123456789012:role/slipway-fn';
  const wait = { minDelaySeconds: 0.02, maxWaitSeconds: 5 };

  before(async () => {
    opened = await backend.open();
    store = opened.store;
    box = new SecretBox(randomBytes(32));
    queue = new Queue(store, { leaseMs: 30_000 });
    project = (await store.tx((db) => createProject(db, box, { name: 'shop', repoUrl: 'file:///nowhere' }))).project;
    await saveTargetSetting(store.db, project.id, { target: 'aws', environment: '', resources: { functionRoleArn: roleArn } });
    s3 = await startS3rver();
    aws = await startAwsStandIn({ s3 });
    clients = awsClients({ kind: 'keys', region: 'eu-west-1', ...aws.credentials, updatedAt: 0 }, { api: aws.endpoint, s3: aws.endpoint, maxAttempts: 3 });
    dir = await tempDir('slipway-aws-deploy-');
  });
  after(async () => {
    clients?.destroy();
    await aws?.close();
    await s3?.cleanup();
    await dir?.cleanup();
    await opened?.cleanup();
  });

  /** A build's output: a page, a public file, a fingerprinted script, and a server zip answering `version`. */
  async function build(name: string, page: string, version: string): Promise<AwsBuildOutput> {
    const assetsDir = join(dir.path, name, 'assets');
    await mkdir(join(assetsDir, '_next', 'static', 'chunks'), { recursive: true });
    await writeFile(join(assetsDir, 'index.html'), page);
    await writeFile(join(assetsDir, 'robots.txt'), 'User-agent: *\n');
    await writeFile(join(assetsDir, '_next', 'static', 'chunks', `main-${version}.js`), `console.log(${JSON.stringify(version)})`);
    const zipPath = join(dir.path, name, 'server.zip');
    await writeFile(zipPath, await tinyZip(version));
    return { assetsDir, functions: [{ name: 'server', zipPath, handler: 'index.handler' }], immutable: [{ prefix: '_next/static/', names: 'all' }] };
  }

  async function newDeployment(): Promise<string> {
    return (await store.tx((db) => createDeployment(db, queue, box, { project, sha: randomBytes(20).toString('hex'), branch: null, trigger: 'api', target: 'production' }))).id;
  }

  async function deploy(id: string, output: AwsBuildOutput, previousDeploymentId?: string, alias = 'live') {
    const setting = await resolveTarget(store.db, project.id, 'production');
    return deployToAws({
      db: store.db,
      aws: clients,
      project,
      deploymentId: id,
      setting,
      output,
      alias,
      wait,
      log: () => {},
      ...(previousDeploymentId === undefined ? {} : { previousDeploymentId }),
    });
  }

  const liveVersion = async (functionName: string) => (await clients.lambda.send(new GetAliasCommand({ FunctionName: functionName, Name: 'live' }))).FunctionVersion;
  const cacheControl = async (bucket: string, key: string) => (await clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).CacheControl;

  let first: string;
  let second: string;

  test('the first deployment creates what is missing, uploads, publishes and goes live', async () => {
    first = await newDeployment();
    const record = await deploy(first, await build('one', '<h1>one</h1>', 'v1'));
    const { resources } = await resolveTarget(store.db, project.id, 'production');
    const bucket = resources.bucket as string;
    assert.match(bucket, /^slipway-shop-[0-9a-f]{8}$/);
    assert.equal(await cacheControl(bucket, `deployments/${first}/index.html`), 'public,max-age=0,must-revalidate');
    assert.equal(await cacheControl(bucket, 'assets/_next/static/chunks/main-v1.js'), 'public,max-age=31536000,immutable');
    const page = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: `deployments/${first}/index.html` }));
    assert.equal(await page.Body?.transformToString(), '<h1>one</h1>');
    assert.equal(await liveVersion(resources.functionName as string), '1');
    const versions = await clients.lambda.send(new ListVersionsByFunctionCommand({ FunctionName: resources.functionName }));
    assert.equal(versions.Versions?.find((v) => v.Version === '1')?.Description, `slipway deployment ${first}`);
    const dist = await clients.cloudfront.send(new GetDistributionConfigCommand({ Id: resources.distributionId }));
    const origins = dist.DistributionConfig?.Origins?.Items ?? [];
    assert.equal(origins.find((o) => o.Id === 'slipway-assets')?.OriginPath, `/deployments/${first}`);
    assert.equal(origins.find((o) => o.Id === 'slipway-server')?.DomainName, new URL(resources.functionUrl as string).host);
    assert.equal(origins.find((o) => o.Id === 'slipway-assets')?.OriginAccessControlId, resources.originAccessControlId);
    assert.deepEqual(
      dist.DistributionConfig?.CacheBehaviors?.Items?.map((b) => [b.PathPattern, b.TargetOriginId]),
      [['/_next/static/*', 'slipway-shared']],
    );
    assert.equal(dist.DistributionConfig?.DefaultCacheBehavior?.TargetOriginId, 'slipway-server');
    // only CloudFront, as this distribution, may read the bucket
    const policy = aws.bucketPolicies.get(bucket) as { Statement: { Principal: unknown; Condition: { StringEquals: Record<string, string> } }[] };
    assert.deepEqual(policy.Statement[0]?.Principal, { Service: 'cloudfront.amazonaws.com' });
    assert.match(policy.Statement[0]?.Condition.StringEquals['AWS:SourceArn'] ?? '', new RegExp(`distribution/${resources.distributionId}$`));
    assert.deepEqual(
      record.steps.map((s) => [s.name, s.status]),
      [
        ['resources', 'done'],
        ['upload', 'done'],
        ['publish-server', 'done'],
        ['go-live', 'done'],
        ['invalidate', 'done'],
      ],
    );
    assert.ok(record.steps.every((s) => typeof s.ms === 'number' && s.ms >= 0));
    assert.equal(record.versions?.server?.version, '1');
    assert.equal(record.alias?.name, 'live');
    // invalidated: the page (as a file and as its folder) and robots.txt, never the fingerprinted script
    const inv = aws.cloudfront.distributions.get(resources.distributionId as string)?.invalidations ?? [];
    assert.deepEqual(inv[0]?.paths, ['/index.html', '/', '/robots.txt']);
    assert.deepEqual(aws.violations, []);
  });

  test('a redeploy with one page changed uploads only that page, and old assets stay', async () => {
    second = await newDeployment();
    const record = await deploy(second, await build('two', '<h1>two</h1>', 'v2'), first);
    const upload = record.steps.find((s) => s.name === 'upload')?.detail as Record<string, number>;
    // index.html and the new script are uploaded; robots.txt is copied inside S3
    assert.deepEqual({ uploaded: upload.uploaded, copied: upload.copied, skipped: upload.skipped }, { uploaded: 2, copied: 1, skipped: 0 });
    const { resources } = await resolveTarget(store.db, project.id, 'production');
    const bucket = resources.bucket as string;
    assert.equal(await cacheControl(bucket, `deployments/${second}/robots.txt`), 'public,max-age=0,must-revalidate');
    // a page the old version rendered still finds its script
    assert.equal(await cacheControl(bucket, 'assets/_next/static/chunks/main-v1.js'), 'public,max-age=31536000,immutable');
    assert.equal(await liveVersion(resources.functionName as string), '2');
    const dist = await clients.cloudfront.send(new GetDistributionConfigCommand({ Id: resources.distributionId }));
    assert.equal(dist.DistributionConfig?.Origins?.Items?.find((o) => o.Id === 'slipway-assets')?.OriginPath, `/deployments/${second}`);
    assert.equal(aws.cloudfront.distributions.size, 1, 'the second deployment reuses the distribution');
  });

  test('rollback is the alias and the asset root again: nothing rebuilt or uploaded', async () => {
    const { resources } = await resolveTarget(store.db, project.id, 'production');
    const before = aws.calls.length;
    await switchAwsLive({ db: store.db, aws: clients, resources, deploymentId: first });
    assert.equal(await liveVersion(resources.functionName as string), '1');
    const dist = await clients.cloudfront.send(new GetDistributionConfigCommand({ Id: resources.distributionId }));
    assert.equal(dist.DistributionConfig?.Origins?.Items?.find((o) => o.Id === 'slipway-assets')?.OriginPath, `/deployments/${first}`);
    const ops = aws.calls.slice(before).map((c) => c.operation);
    assert.equal(ops.includes('UpdateFunctionCode') || ops.includes('PublishVersion'), false, ops.join(','));
    const invalidations = await clients.cloudfront.send(new ListInvalidationsCommand({ DistributionId: resources.distributionId }));
    assert.equal(invalidations.InvalidationList?.Quantity, 3);
    // promote the newer one again
    await switchAwsLive({ db: store.db, aws: clients, resources, deploymentId: second });
    assert.equal(await liveVersion(resources.functionName as string), '2');
  });

  test('throttling is retried with backoff and the deployment goes live', async () => {
    const id = await newDeployment();
    aws.failNext('lambda', 'PublishVersion', { code: 'TooManyRequestsException', status: 429, message: 'Rate exceeded' }, 2);
    const record = await deploy(id, await build('three', '<h1>three</h1>', 'v3'), second);
    assert.equal(record.versions?.server?.version, '3');
    assert.equal(await liveVersion(record.versions?.server?.functionName as string), '3');
  });

  test('an update that stays in progress fails the deployment with the AWS code, the alias stays, and a retry resumes', async () => {
    const id = await newDeployment();
    const functionName = (await resolveTarget(store.db, project.id, 'production')).resources.functionName as string;
    aws.failNext('lambda', 'PublishVersion', { code: 'ResourceConflictException', status: 409, message: 'An update is in progress for resource' }, 3);
    const output = await build('four', '<h1>four</h1>', 'v4');
    await assert.rejects(deploy(id, output, second), (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.code, 'AWS_DEPLOY_FAILED');
      assert.match(err.message, /publish-server failed: ResourceConflictException: An update is in progress/);
      assert.match(err.hint ?? '', /retry the deployment/);
      return true;
    });
    assert.equal(await liveVersion(functionName), '3');
    const failed = await readAwsRecord(store.db, id);
    assert.equal(failed?.error?.code, 'ResourceConflictException');
    // the retry does not create, upload or copy again
    const before = aws.calls.length;
    const record = await deploy(id, output, second);
    const ops = aws.calls.slice(before).map((c) => c.operation);
    assert.equal(ops.includes('CreateFunction') || ops.includes('CreateDistribution') || ops.includes('CreateOriginAccessControl'), false);
    assert.equal(record.steps.filter((s) => s.name === 'upload').length, 1);
    assert.equal(await liveVersion(functionName), record.versions?.server?.version);
    assert.equal(record.error, undefined);
  });

  test('a failed upload and expired credentials each fail with a clear error, and production does not move', async () => {
    const functionName = (await resolveTarget(store.db, project.id, 'production')).resources.functionName as string;
    const live = await liveVersion(functionName);
    const upload = await newDeployment();
    aws.failNextS3('PUT', { code: 'InternalError', status: 500 }, 10);
    await assert.rejects(deploy(upload, await build('five', '<h1>five</h1>', 'v5')), /AWS upload failed: InternalError/);
    assert.equal(await liveVersion(functionName), live);

    const expired = await newDeployment();
    const key = aws.identity.keys.get(aws.credentials.accessKeyId);
    assert.ok(key);
    key.expired = true;
    try {
      await assert.rejects(deploy(expired, await build('six', '<h1>six</h1>', 'v6')), (err: Error & { hint?: string }) => {
        assert.match(err.message, /publish-server failed: ExpiredTokenException/);
        assert.match(err.hint ?? '', /slipway aws set/);
        return true;
      });
    } finally {
      key.expired = false;
    }
    assert.equal(await liveVersion(functionName), live);
  });
  test('a preview gets its own alias and Function URL; production and the distribution stay', async () => {
    const { resources } = await resolveTarget(store.db, project.id, 'production');
    const distribution = aws.cloudfront.distributions.get(resources.distributionId as string);
    const updates = distribution?.updates;
    const id = await newDeployment();
    const record = await deploy(id, await build('preview', '<h1>preview</h1>', 'pv'), second, 'pr-7');
    const functionName = resources.functionName as string;
    assert.equal((await clients.lambda.send(new GetAliasCommand({ FunctionName: functionName, Name: 'pr-7' }))).FunctionVersion, record.versions?.server?.version);
    const live = await liveVersion(functionName);
    assert.notEqual(live, record.versions?.server?.version);
    assert.ok(record.alias?.url !== undefined && record.alias.url !== resources.functionUrl, 'its own Function URL');
    assert.equal(distribution?.updates, updates, 'the distribution is not touched');
    assert.deepEqual(
      record.steps.map((s) => s.name),
      ['resources', 'upload', 'publish-server', 'go-live'],
    );
  });
  test('a custom domain: an ACM certificate in us-east-1 with DNS records to show, then the distribution serves it', async () => {
    const cert = await requestCertificate(clients, 'shop.example.com');
    assert.match(cert.arn, /^arn:aws:acm:us-east-1:/);
    assert.equal(cert.status, 'PENDING_VALIDATION');
    assert.equal(cert.records[0]?.type, 'CNAME');
    assert.match(cert.records[0]?.name ?? '', /\.shop\.example\.com\.$/);
    aws.acm.issue(cert.arn);
    const { resources } = await resolveTarget(store.db, project.id, 'production');
    await addDistributionDomain(clients, resources.distributionId as string, 'shop.example.com', cert.arn);
    const dist = await clients.cloudfront.send(new GetDistributionConfigCommand({ Id: resources.distributionId }));
    assert.deepEqual(dist.DistributionConfig?.Aliases?.Items, ['shop.example.com']);
    assert.equal(dist.DistributionConfig?.ViewerCertificate?.ACMCertificateArn, cert.arn);
    assert.deepEqual(aws.violations, []);
  });
});
