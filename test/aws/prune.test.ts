import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CreateAliasCommand, DeleteAliasCommand, GetAliasCommand, GetFunctionUrlConfigCommand, ListVersionsByFunctionCommand } from '@aws-sdk/client-lambda';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { createTeam } from '../../src/auth/accounts.js';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { moveAlias, prAlias, PRODUCTION, removePreviewAlias } from '../../src/deployments/index.js';
import { createProject } from '../../src/projects/index.js';
import { type CollectionReport, collectGarbage, setRetention } from '../../src/retention/index.js';
import { SecretBox } from '../../src/secrets.js';
import type { Project, Store } from '../../src/store/index.js';
import { saveAwsAccess } from '../../src/targets/aws/access.js';
import { type AwsBuildOutput, type AwsClients, awsClients, deployToAws, readAwsRecord, resolveTarget, saveTargetSetting, switchAwsLive } from '../../src/targets/aws/index.js';
import { saveAwsRecord } from '../../src/targets/aws/record.js';
import { type AwsStandIn, startAwsStandIn } from '../helpers/aws/index.js';
import { forEachBackend, type OpenedStore } from '../helpers/backends.js';
import { startLambda } from '../helpers/lambda-invoke.js';
import { tempDir } from '../helpers/paths.js';
import { type RunningS3, startS3rver } from '../helpers/s3rver.js';
import { insertDeployment, storeDeploymentFiles } from '../retention/fixture.js';
import { tinyZip } from './fixtures.js';

// Retention on the AWS target: six production deployments and a pull request's preview, a
// rollback, then the collector with keep-last-2. What Slipway removes goes on AWS too (Lambda
// versions, the deployment's S3 files and OpenNext cache, a closed preview's alias and URL), and
// nothing a kept deployment or an alias still uses; a failure on AWS is tried again next run.
forEachBackend('retention on AWS', (backend) => {
  let opened: OpenedStore;
  let store: Store;
  let box: SecretBox;
  let project: Project;
  let s3: RunningS3;
  let aws: AwsStandIn;
  let clients: AwsClients;
  let dir: { path: string; cleanup: () => Promise<void> };
  let blobs: LocalBlobStore;
  let bucket: string;
  let fn: string;
  const wait = { minDelaySeconds: 0.02, maxWaitSeconds: 5 };
  /** label (d1..d6, preview) -> deployment id */
  const ids = new Map<string, string>();
  /** label -> the keys its deployment root held once deployed */
  const rootKeys = new Map<string, string[]>();
  const id = (label: string) => ids.get(label) as string;

  before(async () => {
    opened = await backend.open();
    store = opened.store;
    box = new SecretBox(randomBytes(32));
    dir = await tempDir('slipway-aws-prune-');
    blobs = new LocalBlobStore(join(dir.path, 'blobs'));
    s3 = await startS3rver();
    aws = await startAwsStandIn({ s3 });
    clients = awsClients({ kind: 'keys', region: 'eu-west-1', ...aws.credentials, updatedAt: 0 }, { api: aws.endpoint, s3: aws.endpoint, maxAttempts: 1 });
    const team = await createTeam(store.db, { slug: 'acme' }, undefined);
    project = (await createProject(store.db, box, { name: 'shop', repoUrl: 'file:///nowhere' }, team.id)).project;
    await saveAwsAccess(store.db, box, team.id, { kind: 'keys', region: 'eu-west-1', ...aws.credentials });
    await saveTargetSetting(store.db, project.id, { target: 'aws', environment: '', resources: { functionRoleArn: 'arn:aws:iam::123456789012:role/slipway-fn' } });
    await setRetention(store.db, project.id, { keepProduction: 2, keepDays: 0 });
  });
  after(async () => {
    clients?.destroy();
    await aws?.close();
    await s3?.cleanup();
    await dir?.cleanup();
    await opened?.cleanup();
  });

  /** A build: a page, a fingerprinted script, OpenNext's cache folder, and a server zip answering `label`. */
  async function build(label: string): Promise<AwsBuildOutput> {
    const assetsDir = join(dir.path, label, 'assets');
    const cacheDir = join(dir.path, label, 'cache');
    await mkdir(join(assetsDir, '_next', 'static', 'chunks'), { recursive: true });
    await mkdir(cacheDir, { recursive: true });
    await writeFile(join(assetsDir, 'index.html'), `<h1>${label}</h1>`);
    await writeFile(join(assetsDir, '_next', 'static', 'chunks', `main-${label}.js`), `console.log(${JSON.stringify(label)})`);
    await writeFile(join(cacheDir, 'index.cache'), JSON.stringify({ html: label }));
    const zipPath = join(dir.path, label, 'server.zip');
    await writeFile(zipPath, await tinyZip(label));
    return { assetsDir, cacheDir, functions: [{ name: 'server', zipPath, handler: 'index.handler' }], immutable: [{ prefix: '_next/static/', names: 'all' }] };
  }

  /** A ready deployment (its manifest in the blob store, made a day ago) deployed to AWS and taking its Slipway alias. */
  async function deploy(label: string, preview?: number): Promise<void> {
    const { manifestHash } = await storeDeploymentFiles(blobs, { 'index.html': { body: `<h1>${label}</h1>` } });
    const deploymentId = await insertDeployment(store.db, project, { status: 'ready', environment: preview === undefined ? 'production' : 'preview', ageDays: 1, manifestHash });
    if (preview !== undefined) await store.db.updateTable('deployments').set({ pr_number: preview }).where('id', '=', deploymentId).execute();
    ids.set(label, deploymentId);
    const setting = await resolveTarget(store.db, project.id, 'production');
    await deployToAws({ db: store.db, aws: clients, project, deploymentId, setting, output: await build(label), alias: preview === undefined ? 'live' : `pr-${preview}`, wait, log: () => {} });
    await store.tx((db) => moveAlias(db, project.id, preview === undefined ? PRODUCTION : prAlias(preview), deploymentId));
    const resources = (await resolveTarget(store.db, project.id, 'production')).resources;
    bucket = resources.bucket as string;
    fn = resources.functionName as string;
    rootKeys.set(label, await keys(`deployments/${deploymentId}/`));
  }

  async function keys(prefix: string): Promise<string[]> {
    const out = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    return (out.Contents ?? []).map((o) => o.Key as string).sort();
  }
  const versionOf = async (label: string) => (await readAwsRecord(store.db, id(label)))?.versions?.server?.version as string;
  const versions = async () => ((await clients.lambda.send(new ListVersionsByFunctionCommand({ FunctionName: fn }))).Versions ?? []).map((v) => v.Version as string).filter((v) => v !== '$LATEST');
  /** Run a published version's code (taken back out of the stand-in's account) and return what it answers. */
  async function invoke(version: string): Promise<string | undefined> {
    const zip = aws.lambda.functions.get(fn)?.versions.get(version)?.zip;
    assert.ok(zip, `version ${version} has no code`);
    const running = await startLambda({ zip, handler: 'index.handler' });
    try {
      return (await running.invoke({})).body;
    } finally {
      await running.close();
    }
  }
  // three attempts, as the SDK retries a 500: s3rver's multi-object delete sometimes answers
  // InternalError (its parallel deletes race to remove the emptied folders); AWS S3 does not
  const collect = (dryRun = false): Promise<CollectionReport> =>
    collectGarbage({ store, blobs, dataDir: dir.path, aws: { box, endpoints: { api: aws.endpoint, s3: aws.endpoint, maxAttempts: 3 } } }, { dryRun, graceMs: 0 });

  test('six deployments, a rollback, a shared version, a canary and a closed preview', async () => {
    for (const label of ['d1', 'd2', 'd3', 'd4', 'd5', 'd6']) await deploy(label);
    await deploy('preview', 7);
    // the rollback: live on AWS and Slipway's production alias back to d2
    await store.tx(async (db) => {
      await switchAwsLive({ db, aws: clients, resources: (await resolveTarget(db, project.id, 'production')).resources, deploymentId: id('d2') });
      await moveAlias(db, project.id, PRODUCTION, id('d2'));
    });
    // d3 names d5's version, as when publishing unchanged code answers the version already there
    const d3 = await readAwsRecord(store.db, id('d3'));
    const d5 = await readAwsRecord(store.db, id('d5'));
    assert.ok(d3?.versions !== undefined && d5?.versions !== undefined);
    await saveAwsRecord(store.db, id('d3'), { ...d3, versions: d5.versions });
    // someone's weighted alias sends a tenth of its traffic to d4's version
    await clients.lambda.send(
      new CreateAliasCommand({ FunctionName: fn, Name: 'canary', FunctionVersion: await versionOf('d6'), RoutingConfig: { AdditionalVersionWeights: { [await versionOf('d4')]: 0.1 } } }),
    );
    // the pull request closes: Slipway takes its preview away
    await store.tx((db) => removePreviewAlias(db, project.id, prAlias(7)));
    assert.equal((await clients.lambda.send(new GetAliasCommand({ FunctionName: fn, Name: 'pr-7' }))).FunctionVersion, await versionOf('preview'));
    for (const label of ['d1', 'preview'])
      assert.ok(
        (rootKeys.get(label) ?? []).some((k) => k.endsWith('/_cache/index.cache')),
        `${label} has its OpenNext cache`,
      );
  });

  test('a dry run lists the versions, objects and alias that would go, and deletes nothing', async () => {
    const before = await versions();
    const report = await collect(true);
    assert.deepEqual(report.deployments.map((d) => d.id).sort(), [id('d1'), id('d3'), id('d4'), id('preview')].sort());
    const r = report.aws;
    assert.ok(r !== undefined);
    const arn = (v: string) => `arn:aws:lambda:eu-west-1:123456789012:function:${fn}:${v}`;
    assert.deepEqual(r.versions.sample.sort(), [arn(await versionOf('d1')), arn(await versionOf('preview'))].sort());
    assert.deepEqual(r.objects.sample.sort(), [...(rootKeys.get('d1') ?? []), ...(rootKeys.get('preview') ?? [])].sort());
    assert.equal(r.objects.count, r.objects.sample.length);
    assert.ok(r.objects.bytes > 0);
    assert.deepEqual(r.aliases, [`${fn}:pr-7`]);
    assert.deepEqual(r.waiting.map((w) => w.id).sort(), [id('d3'), id('d4')].sort());
    assert.deepEqual(await versions(), before);
    assert.deepEqual(await keys(`deployments/${id('d1')}/`), rootKeys.get('d1'));
    assert.equal((await clients.lambda.send(new GetAliasCommand({ FunctionName: fn, Name: 'pr-7' }))).Name, 'pr-7');
  });

  test('AWS unreachable or refusing a delete does not stop the collection, and the next run finishes it', async () => {
    const before = await versions();
    // nothing listens on port 1: every AWS call fails (after the SDK's retries)
    const unreachable = await collectGarbage({ store, blobs, dataDir: dir.path, aws: { box, endpoints: { api: 'http://127.0.0.1:1', s3: 'http://127.0.0.1:1', maxAttempts: 2 } } }, { graceMs: 0 });
    // the edge side is done: the rows are removed and their blobs swept
    assert.equal(unreachable.deployments.length, 4);
    assert.ok(unreachable.blobs.count > 0);
    assert.deepEqual(unreachable.aws?.waiting.map((w) => w.id).sort(), [id('d1'), id('d3'), id('d4'), id('preview')].sort());
    assert.ok(unreachable.warnings.some((w) => w.includes('project shop was not pruned') && w.includes('tries again')));
    assert.deepEqual(await versions(), before);
    assert.deepEqual(await keys(`deployments/${id('d1')}/`), rootKeys.get('d1'));

    const d1Version = await versionOf('d1');
    aws.failNext('lambda', 'DeleteFunction', { code: 'AccessDeniedException', status: 403, message: 'not allowed to lambda:DeleteFunction' });
    const failed = await collect();
    assert.equal(failed.deployments.length, 0);
    const r1 = failed.aws;
    assert.ok(r1 !== undefined);
    assert.match(r1.waiting.find((w) => w.id === id('d1'))?.reason ?? '', /AccessDeniedException/);
    assert.ok(failed.warnings.some((w) => w.includes(id('d1')) && w.includes('tries again')));
    assert.ok((await versions()).includes(d1Version));
    assert.deepEqual(await keys(`deployments/${id('d1')}/`), rootKeys.get('d1'));
    assert.equal(((await readAwsRecord(store.db, id('d1'))) as { pruneError?: { code: string } }).pruneError?.code, 'AccessDeniedException');
    // the rest went in the same run: the closed preview's alias, URL, version and files
    assert.deepEqual(r1.aliases, [`${fn}:pr-7`]);
    await assert.rejects(clients.lambda.send(new GetAliasCommand({ FunctionName: fn, Name: 'pr-7' })), { name: 'ResourceNotFoundException' });
    await assert.rejects(clients.lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: fn, Qualifier: 'pr-7' })), { name: 'ResourceNotFoundException' });
    assert.ok(!(await versions()).includes(await versionOf('preview')));
    assert.deepEqual(await keys(`deployments/${id('preview')}/`), []);

    const next = await collect();
    assert.equal(next.deployments.length, 0);
    assert.equal(next.aws?.versions.count, 1);
    assert.equal(next.aws?.objects.count, rootKeys.get('d1')?.length);
    assert.ok(!(await versions()).includes(d1Version));
    assert.deepEqual(await keys(`deployments/${id('d1')}/`), []);
    const record = (await readAwsRecord(store.db, id('d1'))) as { pruned?: { versions: number }; pruneError?: unknown };
    assert.equal(record.pruned?.versions, 1);
    assert.equal(record.pruneError, undefined);
  });

  test('what a kept deployment or an alias uses stays, and still runs', async () => {
    const left = await versions();
    // live (d2 after the rollback) and the newest two
    for (const label of ['d2', 'd5', 'd6']) {
      const v = await versionOf(label);
      assert.ok(left.includes(v), `${label}'s version ${v} stays`);
      assert.equal(await invoke(v), label);
      assert.deepEqual(await keys(`deployments/${id(label)}/`), rootKeys.get(label), `${label}'s files all stay`);
    }
    assert.equal((await clients.lambda.send(new GetAliasCommand({ FunctionName: fn, Name: 'live' }))).FunctionVersion, await versionOf('d2'));
    // d3 shares d5's version; d4's is the canary's additional version: both stay, with their files
    assert.ok(left.includes(await versionOf('d4')));
    for (const label of ['d3', 'd4']) assert.deepEqual(await keys(`deployments/${id(label)}/`), rootKeys.get(label));
    // fingerprinted files are shared by every deployment: never deleted
    assert.equal((await keys('assets/_next/static/chunks/')).length, 7);
    const again = await collect();
    assert.equal(again.aws?.versions.count, 0);
    assert.deepEqual(again.aws?.waiting.map((w) => w.id).sort(), [id('d3'), id('d4')].sort());
  });

  test('once the canary alias is gone, the next run prunes its version', async () => {
    const d4Version = await versionOf('d4');
    await clients.lambda.send(new DeleteAliasCommand({ FunctionName: fn, Name: 'canary' }));
    const report = await collect();
    assert.deepEqual(report.aws?.versions.sample, [`arn:aws:lambda:eu-west-1:123456789012:function:${fn}:${d4Version}`]);
    assert.ok(!(await versions()).includes(d4Version));
    assert.deepEqual(await keys(`deployments/${id('d4')}/`), []);
    assert.deepEqual(
      report.aws?.waiting.map((w) => w.id),
      [id('d3')],
    );
  });
});
