import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { GetDistributionConfigCommand } from '@aws-sdk/client-cloudfront';
import { GetAliasCommand, GetFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { packageOutput } from '../../src/artifact/index.js';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { createDeployment, getDeployment, movePreviewAliases } from '../../src/deployments/index.js';
import { createEdgeServer, type EdgeServer } from '../../src/edge/index.js';
import { createStoreLookup } from '../../src/routing/index.js';
import { createRuntimeGateway } from '../../src/runtime/index.js';
import { createProject } from '../../src/projects/index.js';
import { Queue } from '../../src/queue/index.js';
import { SecretBox } from '../../src/secrets.js';
import type { Project, Store } from '../../src/store/index.js';
import { type AwsClients, type AwsRecord, awsClients, buildForTarget, deployToAws, resolveTarget, saveTargetSetting, type TargetBuildResult } from '../../src/targets/aws/index.js';
import { type AwsStandIn, startAwsStandIn } from '../helpers/aws/index.js';
import { type OpenedStore, sqliteBackend } from '../helpers/backends.js';
import { functionUrlEvent, readResponse, type RunningLambda, startLambda } from '../helpers/lambda-invoke.js';
import { getLocal, type Standalone, startStandalone } from '../helpers/next-standalone.js';
import { fixturesDir, tempDir } from '../helpers/paths.js';
import { type RunningS3, startS3rver } from '../helpers/s3rver.js';

// The whole AWS path for a Next.js app, with one real build: the worker's build step for a
// project whose target is AWS (OpenNext, in the sandbox), then the deploy through the stand-in
// (S3 on s3rver). The server function is taken back out of the stand-in as it was published,
// unpacked and invoked like Lambda behind its Function URL, and compared with the same build's
// standalone server (what Slipway's own edge runs).
const GREETING = 'hello from slipway';
const HOST = 'shop.example.test';
const wait = { minDelaySeconds: 0.02, maxWaitSeconds: 5 };
let tmp: Awaited<ReturnType<typeof tempDir>>;
let opened: OpenedStore;
let store: Store;
let project: Project;
let s3: RunningS3;
let aws: AwsStandIn;
let clients: AwsClients;
let build: TargetBuildResult;
let record: AwsRecord;
let deploymentId: string;
let lambda: RunningLambda | undefined;
let standalone: Standalone | undefined;
let edge: EdgeServer | undefined;
let stopRuntime: (() => Promise<void>) | undefined;
const logs: string[] = [];

before(async () => {
  tmp = await tempDir('slipway-aws-next-');
  opened = await sqliteBackend.open();
  store = opened.store;
  const box = new SecretBox(randomBytes(32));
  project = (await store.tx((db) => createProject(db, box, { name: 'shop', repoUrl: 'file:///nowhere' }))).project;
  await saveTargetSetting(store.db, project.id, { target: 'aws', environment: '', resources: { functionRoleArn: 'arn:aws:iam::123456789012:role/slipway-fn' } });
  const queue = new Queue(store, { leaseMs: 30_000 });
  deploymentId = (await store.tx((db) => createDeployment(db, queue, box, { project, sha: randomBytes(20).toString('hex'), branch: null, trigger: 'api', target: 'production' }))).id;
  s3 = await startS3rver();
  aws = await startAwsStandIn({ s3 });
  clients = awsClients({ kind: 'keys', region: 'eu-west-1', ...aws.credentials, updatedAt: 0 }, { api: aws.endpoint, s3: aws.endpoint, maxAttempts: 3 });

  const sourceDir = join(tmp.path, 'src');
  await cp(join(fixturesDir, 'next-app'), sourceDir, { recursive: true });
  build = await buildForTarget(store.db, project.id, 'production', join(tmp.path, 'zips'), {
    sourceDir,
    settings: {},
    env: { NEXT_TELEMETRY_DISABLED: '1' },
    timeoutMs: 600_000,
    log: (line) => logs.push(line),
    cacheDir: join(tmp.path, 'pm-cache'),
    hiddenPaths: [],
    scratchDir: tmp.path,
  });
  assert.ok(build.aws !== undefined, logs.join('\n'));
  record = await deployToAws({
    db: store.db,
    aws: clients,
    project,
    deploymentId,
    setting: await resolveTarget(store.db, project.id, 'production'),
    output: build.aws,
    alias: 'live',
    wait,
    log: (l) => logs.push(l),
  });
  standalone = await startStandalone(join(sourceDir, '.next', 'standalone'), { GREETING }, HOST);
});

after(async () => {
  await edge?.close();
  await stopRuntime?.();
  await lambda?.close();
  await standalone?.stop();
  clients?.destroy();
  await aws?.close();
  await s3?.cleanup();
  await opened?.cleanup();
  await tmp?.cleanup();
});

test('a Next.js project on AWS builds with OpenNext: assets as the output, both functions for Lambda, no server for the edge', () => {
  assert.ok(logs.includes('This project deploys to AWS: building it with OpenNext'));
  assert.equal(build.server, undefined);
  assert.equal(build.outputDir, build.aws?.assetsDir);
  assert.deepEqual(
    build.aws?.functions.map((f) => f.name),
    ['server', 'image'],
  );
});

test('the published server function answers as the same build does behind Slipway', { timeout: 120_000 }, async () => {
  const { resources } = await resolveTarget(store.db, project.id, 'production');
  const alias = await clients.lambda.send(new GetAliasCommand({ FunctionName: resources.functionName, Name: 'live' }));
  assert.equal(alias.FunctionVersion, record.versions?.server?.version);
  // the bytes Lambda holds for the version behind `live`, and the environment that version keeps
  const fn = aws.lambda.functions.get(resources.functionName as string);
  const published = fn?.versions.get(alias.FunctionVersion as string);
  assert.ok(published !== undefined);
  const config = await clients.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: resources.functionName, Qualifier: 'live' }));
  assert.deepEqual(config.Environment?.Variables, {
    CACHE_BUCKET_NAME: resources.bucket,
    CACHE_BUCKET_KEY_PREFIX: `deployments/${deploymentId}/_cache/`,
    CACHE_BUCKET_REGION: 'eu-west-1',
  });
  lambda = await startLambda({ zip: published.zip, handler: config.Handler as string, env: { GREETING } });
  const headers = { 'x-forwarded-host': HOST, accept: 'text/html' };
  const both = async (path: string) => ({
    fromLambda: readResponse(await (lambda as RunningLambda).invoke(functionUrlEvent({ path, headers }))),
    fromNext: await getLocal((standalone as Standalone).port, path, { ...headers, 'x-forwarded-proto': 'http', 'x-forwarded-port': '80' }, HOST),
  });
  const ssr = await both('/ssr');
  for (const res of [ssr.fromLambda, ssr.fromNext]) {
    assert.equal(res.status, 200);
    assert.match(res.text, /Server page <!-- -->v1|Server page v1/);
  }
  assert.equal(ssr.fromLambda.headers['content-type'], ssr.fromNext.headers['content-type']);
  assert.equal(ssr.fromLambda.headers['cache-control'], ssr.fromNext.headers['cache-control']);

  const api = await both('/api/hello');
  assert.equal(api.fromLambda.status, 200);
  assert.equal(api.fromNext.status, 200);
  const { proto: _a, ...fromLambda } = JSON.parse(api.fromLambda.text);
  const { proto: _b, ...fromNext } = JSON.parse(api.fromNext.text);
  assert.deepEqual(fromLambda, fromNext);
  assert.deepEqual(fromLambda, { hello: 'world', version: 'v1', greeting: GREETING });

  const rewritten = await both('/old-page');
  for (const res of [rewritten.fromLambda, rewritten.fromNext]) {
    assert.equal(res.status, 200);
    assert.equal(res.headers.location, undefined);
    assert.match(res.text, /Server page <!-- -->v1|Server page v1/);
  }
});

test("the image function has its own live alias, its Function URL behind /_next/image*, and reads this deployment's prefix", async () => {
  const { resources } = await resolveTarget(store.db, project.id, 'production');
  const image = resources.imageFunctionName as string;
  assert.equal((await clients.lambda.send(new GetAliasCommand({ FunctionName: image, Name: 'live' }))).FunctionVersion, record.versions?.image?.version);
  const config = await clients.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: image, Qualifier: 'live' }));
  assert.deepEqual(config.Environment?.Variables, { BUCKET_NAME: resources.bucket, BUCKET_KEY_PREFIX: `deployments/${deploymentId}` });
  const url = aws.lambda.functions.get(image)?.urls.get('live');
  assert.ok(url !== undefined);
  const dist = await clients.cloudfront.send(new GetDistributionConfigCommand({ Id: resources.distributionId }));
  const behaviour = dist.DistributionConfig?.CacheBehaviors?.Items?.find((b) => b.PathPattern === '/_next/image*');
  const origin = dist.DistributionConfig?.Origins?.Items?.find((o) => o.Id === behaviour?.TargetOriginId);
  assert.equal(origin?.DomainName, new URL(url.url).host);
  // the public file the image function would resize is under that prefix
  assert.equal((await clients.s3.send(new HeadObjectCommand({ Bucket: resources.bucket, Key: `deployments/${deploymentId}/logo.png` }))).ContentType, 'image/png');
});

test('static assets are in the bucket, fingerprinted ones immutable under /_next/static/', async () => {
  const { resources } = await resolveTarget(store.db, project.id, 'production');
  const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: resources.bucket, Prefix: 'assets/_next/static/' }));
  const keys = (listed.Contents ?? []).map((o) => o.Key as string);
  assert.ok(
    keys.some((k) => k.endsWith('.js')),
    keys.join('\n'),
  );
  for (const key of keys.slice(0, 5)) {
    assert.equal((await clients.s3.send(new HeadObjectCommand({ Bucket: resources.bucket, Key: key }))).CacheControl, 'public,max-age=31536000,immutable', key);
  }
  assert.equal((await clients.s3.send(new HeadObjectCommand({ Bucket: resources.bucket, Key: `deployments/${deploymentId}/logo.png` }))).CacheControl, 'public,max-age=0,must-revalidate');
});

test('a redeploy of the same build uploads no function code, yet its versions name its own prefixes', async () => {
  const queue = new Queue(store, { leaseMs: 30_000 });
  const box = new SecretBox(randomBytes(32));
  const next = (await store.tx((db) => createDeployment(db, queue, box, { project, sha: randomBytes(20).toString('hex'), branch: null, trigger: 'api', target: 'production' }))).id;
  const callsBefore = aws.calls.length;
  const setting = await resolveTarget(store.db, project.id, 'production');
  const again = await deployToAws({
    db: store.db,
    aws: clients,
    project,
    deploymentId: next,
    setting,
    output: build.aws as NonNullable<TargetBuildResult['aws']>,
    alias: 'live',
    wait,
    previousDeploymentId: deploymentId,
    log: () => {},
  });
  const operations = aws.calls.slice(callsBefore).map((c) => c.operation);
  assert.ok(!operations.includes('UpdateFunctionCode'), operations.join(','));
  assert.equal(operations.filter((o) => o === 'UpdateFunctionConfiguration').length, 2);
  const server = setting.resources.functionName as string;
  assert.notEqual(again.versions?.server?.version, record.versions?.server?.version);
  const live = await clients.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: server, Qualifier: 'live' }));
  assert.equal(live.Version, again.versions?.server?.version);
  assert.equal(live.Environment?.Variables?.CACHE_BUCKET_KEY_PREFIX, `deployments/${next}/_cache/`);
  // the earlier version keeps its own, so a rollback to it reads its own deployment's cache
  const earlier = await clients.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: server, Qualifier: record.versions?.server?.version }));
  assert.equal(earlier.Environment?.Variables?.CACHE_BUCKET_KEY_PREFIX, `deployments/${deploymentId}/_cache/`);
});

test("a pull request's preview is served at its Slipway URL: files from its manifest, pages and POSTs from its Function URL, 502 when it is down", { timeout: 120_000 }, async () => {
  const queue = new Queue(store, { leaseMs: 30_000 });
  const box = new SecretBox(randomBytes(32));
  const preview = await store.tx((db) => createDeployment(db, queue, box, { project, sha: randomBytes(20).toString('hex'), branch: 'checkout', trigger: 'api', target: 'preview', prNumber: 9 }));
  // the same build as a preview: its own alias and Function URL, its own variables
  const deployed = await deployToAws({
    db: store.db,
    aws: clients,
    project,
    deploymentId: preview.id,
    setting: await resolveTarget(store.db, project.id, 'preview'),
    output: build.aws as NonNullable<TargetBuildResult['aws']>,
    alias: 'pr-9',
    environment: { GREETING: 'hello from pull request 9' },
    wait,
    log: () => {},
  });
  assert.ok(deployed.alias?.url !== undefined);
  // what the worker does next: the static output packaged for the edge, ready, the preview aliases moved
  const blobs = new LocalBlobStore(join(tmp.path, 'blobs'));
  const pkg = await packageOutput({ outputDir: build.outputDir, blobs, immutable: build.aws?.immutable, log: () => {} });
  await store.tx(async (db) => {
    await db.updateTable('deployments').set({ status: 'ready', manifest_hash: pkg.manifestHash }).where('id', '=', preview.id).execute();
    await movePreviewAliases(db, project.name, await getDeployment(db, preview.id));
  });
  const { gateway, runtime } = createRuntimeGateway(blobs, tmp.path, { memoryMb: 0, requestTimeoutMs: 30_000, idleMs: 60_000 });
  stopRuntime = () => runtime.close();
  edge = createEdgeServer({ lookup: createStoreLookup(store, 'localhost', { api: aws.endpoint }), blobs, servers: gateway, log: () => {} });
  await new Promise<void>((resolve) => edge?.server.listen(0, '127.0.0.1', resolve));
  const port = (edge.server.address() as AddressInfo).port;
  const host = 'pr-9--shop.localhost';
  const ask = (path: string, method = 'GET', body?: string) =>
    new Promise<{ status: number; headers: Record<string, unknown>; text: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, method, headers: { host, accept: 'text/html' }, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      });
      req.setTimeout(60_000, () => req.destroy(new Error(`no answer for ${path}`)));
      req.on('error', reject);
      req.end(body);
    });

  // the server page, rendered by the function, knows the preview's host (OpenNext reads x-forwarded-host)
  const page = await ask('/ssr');
  assert.equal(page.status, 200, page.text);
  assert.match(page.text, /Server page <!-- -->v1|Server page v1/);
  assert.match(page.text, new RegExp(`<p id="host">${host}</p>`));
  assert.equal(page.headers['x-slipway-deployment'], preview.id);
  const invoked = aws.functionUrls.invocations.length;
  assert.ok(invoked > 0);

  // a fingerprinted script comes from the manifest, never from the function
  const script = Object.keys(pkg.manifest.files).find((k) => k.startsWith('_next/static/') && k.endsWith('.js'));
  assert.ok(script !== undefined);
  const asset = await ask(`/${script}`);
  assert.equal(asset.status, 200);
  assert.match(String(asset.headers['cache-control']), /immutable/);
  assert.equal(aws.functionUrls.invocations.length, invoked);

  const api = await ask('/api/hello');
  assert.equal(JSON.parse(api.text).greeting, 'hello from pull request 9');
  const posted = await ask('/api/hello', 'POST', 'qty=3');
  assert.equal(posted.status, 200, posted.text);
  assert.deepEqual(JSON.parse(posted.text), { method: 'POST', received: 'qty=3', greeting: 'hello from pull request 9' });

  aws.functionUrls.down = true;
  try {
    const down = await ask('/ssr');
    assert.equal(down.status, 502);
    assert.match(down.text, new RegExp(`deployment <code>${preview.id}</code> on AWS did not answer`));
  } finally {
    aws.functionUrls.down = false;
  }
});
