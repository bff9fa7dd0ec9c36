import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { GetAliasCommand, GetFunctionConfigurationCommand, UpdateFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { createTeam } from '../../src/auth/accounts.js';
import type { BuildResult } from '../../src/build/types.js';
import { type Config, loadConfig } from '../../src/config/index.js';
import { createDeployment, deploymentEnv } from '../../src/deployments/index.js';
import { createProject, deleteEnv, setEnv } from '../../src/projects/index.js';
import { Queue } from '../../src/queue/index.js';
import { SecretBox } from '../../src/secrets.js';
import type { Deployment, Project, Store } from '../../src/store/index.js';
import {
  type AwsBuildOutput,
  type AwsClients,
  awsAliasFor,
  awsClients,
  goLiveOnAws,
  readAwsRecord,
  resolveTarget,
  saveAwsAccess,
  saveTargetSetting,
  switchOnAws,
} from '../../src/targets/aws/index.js';
import { type AwsStandIn, startAwsStandIn } from '../helpers/aws/index.js';
import { forEachBackend, type OpenedStore } from '../helpers/backends.js';
import { tempDir } from '../helpers/paths.js';
import { type RunningS3, startS3rver } from '../helpers/s3rver.js';
import { tinyZip } from './fixtures.js';

// The project's variables on Lambda and static previews, through the worker's own calls
// (goLiveOnAws, switchOnAws) against the model-checking stand-in and a real s3rver: what each
// function version runs with, read back with GetFunctionConfiguration, and what never reaches AWS.
forEachBackend('AWS: variables and static previews', (backend) => {
  let opened: OpenedStore;
  let store: Store;
  let box: SecretBox;
  let queue: Queue;
  let project: Project;
  let config: Config;
  let s3: RunningS3;
  let aws: AwsStandIn;
  let clients: AwsClients;
  let dir: { path: string; cleanup: () => Promise<void> };
  let logs: string[] = [];
  const deps = () => ({ store, box, config });
  const SECRET = 'https://api.one.example/secret-token-8c1f';

  before(async () => {
    opened = await backend.open();
    store = opened.store;
    box = new SecretBox(randomBytes(32));
    queue = new Queue(store, { leaseMs: 30_000 });
    s3 = await startS3rver();
    aws = await startAwsStandIn({ s3 });
    // updates settle at once: the worker's default waiter delay (1 s) is not spent on every publish
    aws.lambda.updatePolls = 0;
    clients = awsClients({ kind: 'keys', region: 'eu-west-1', ...aws.credentials, updatedAt: 0 }, { api: aws.endpoint, s3: aws.endpoint, maxAttempts: 1 });
    dir = await tempDir('slipway-aws-env-');
    config = loadConfig({ 'data-dir': join(dir.path, 'data'), 'aws-endpoint': aws.endpoint, 'aws-s3-endpoint': aws.endpoint }, {});
    const team = await createTeam(store.db, { slug: 'acme' }, undefined);
    project = (await store.tx((db) => createProject(db, box, { name: 'shop', repoUrl: 'file:///nowhere' }, team.id))).project;
    await saveAwsAccess(store.db, box, team.id, { kind: 'keys', region: 'eu-west-1', ...aws.credentials });
    await saveTargetSetting(store.db, project.id, { target: 'aws', environment: '', resources: { functionRoleArn: 'arn:aws:iam::123456789012:role/slipway-fn' } });
  });
  after(async () => {
    clients?.destroy();
    await aws?.close();
    await s3?.cleanup();
    await dir?.cleanup();
    await opened?.cleanup();
  });

  /** A build as the worker hands it over: static files, and for `version` a server and an image function. */
  async function build(name: string, version?: string): Promise<BuildResult> {
    const assetsDir = join(dir.path, name);
    await mkdir(assetsDir, { recursive: true });
    await writeFile(join(assetsDir, 'index.html'), `<h1>${name}</h1>`);
    const functions: AwsBuildOutput['functions'] = [];
    for (const fn of version === undefined ? [] : (['server', 'image'] as const)) {
      const zipPath = join(dir.path, `${name}-${fn}.zip`);
      await writeFile(zipPath, await tinyZip(`${fn} ${version}`));
      functions.push({ name: fn, zipPath, handler: 'index.handler' });
    }
    const framework = { id: version === undefined ? 'static' : 'nextjs', name: version === undefined ? 'Static' : 'Next.js', reason: 'test' };
    const aws: AwsBuildOutput = { assetsDir, functions, immutable: [] };
    return { outputDir: assetsDir, packageManager: 'none', installMs: 0, buildMs: 0, cache: { dependencies: 'disabled' }, framework, ...(version === undefined ? {} : { aws }) } as BuildResult;
  }

  async function deployment(opts: { branch?: string; target?: 'production' | 'preview' } = {}): Promise<Deployment> {
    return store.tx((db) => createDeployment(db, queue, box, { project, sha: randomBytes(20).toString('hex'), branch: opts.branch ?? null, trigger: 'api', target: opts.target ?? 'production' }));
  }

  /** the worker's AWS step, then what the worker does next: the deployment is ready */
  async function goLive(d: Deployment, b: BuildResult): Promise<void> {
    await goLiveOnAws(deps(), project, d, b, (line) => logs.push(line));
    await store.db.updateTable('deployments').set({ status: 'ready' }).where('id', '=', d.id).execute();
  }

  const resources = async () => (await resolveTarget(store.db, project.id, 'production')).resources;
  const variablesOf = async (functionName: string, qualifier: string) =>
    (await clients.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName, Qualifier: qualifier }))).Environment?.Variables ?? {};
  const withoutOpenNext = (vars: Record<string, string>) => Object.fromEntries(Object.entries(vars).filter(([k]) => !k.startsWith('CACHE_BUCKET_')));

  let first: Deployment;
  let firstVersion: string;

  test("the server function's version runs with the deployment's production variables; the image function gets none of them", async () => {
    await store.tx((db) => setEnv(db, box, project.id, 'API_URL', { value: SECRET, targets: ['production', 'preview'] }));
    await store.tx((db) => setEnv(db, box, project.id, 'PREVIEW_ONLY', { value: 'preview-value', targets: ['preview'] }));
    logs = [];
    first = await deployment();
    await goLive(first, await build('one', 'v1'));
    const r = await resources();
    const record = await readAwsRecord(store.db, first.id);
    firstVersion = record?.versions?.server?.version as string;
    const vars = await variablesOf(r.functionName as string, firstVersion);
    // exactly what its SSR server would get on the edge, plus OpenNext's own
    assert.deepEqual(withoutOpenNext(vars), deploymentEnv(box, first));
    assert.equal(vars.API_URL, SECRET);
    assert.equal(vars.PREVIEW_ONLY, undefined);
    assert.equal(vars.CACHE_BUCKET_KEY_PREFIX, `deployments/${first.id}/_cache/`);
    const image = await variablesOf(r.imageFunctionName as string, record?.versions?.image?.version as string);
    assert.deepEqual(Object.keys(image).sort(), ['BUCKET_KEY_PREFIX', 'BUCKET_NAME']);
    // the value is in no log line and nowhere in the AWS record
    assert.ok(logs.length > 0);
    assert.equal(logs.join('\n').includes(SECRET), false);
    assert.equal(JSON.stringify(record).includes(SECRET), false);
    assert.deepEqual(aws.violations, []);
  });

  test("a branch preview's alias runs with the preview variables and that branch's overrides", async () => {
    await store.tx((db) => setEnv(db, box, project.id, 'API_URL', { value: 'https://api.feature.example', targets: ['preview'], branch: 'feature' }));
    const d = await deployment({ branch: 'feature', target: 'preview' });
    await goLive(d, await build('feature', 'vf'));
    const record = await readAwsRecord(store.db, d.id);
    const alias = record?.alias?.name as string;
    assert.match(alias, /^br-/, 'a branch alias has its own prefix');
    const vars = await variablesOf((await resources()).functionName as string, alias);
    assert.deepEqual(withoutOpenNext(vars), { API_URL: 'https://api.feature.example', PREVIEW_ONLY: 'preview-value' });
    assert.deepEqual(withoutOpenNext(vars), deploymentEnv(box, d));
    await store.tx((db) => deleteEnv(db, project.id, 'API_URL', { branch: 'feature' }));
  });

  test("a rollback runs with the old deployment's variables: each version keeps its own", async () => {
    await store.tx((db) => setEnv(db, box, project.id, 'API_URL', { value: 'https://api.two.example', targets: ['production'] }));
    const second = await deployment();
    await goLive(second, await build('two', 'v2'));
    const functionName = (await resources()).functionName as string;
    const secondVersion = (await readAwsRecord(store.db, second.id))?.versions?.server?.version as string;
    assert.notEqual(secondVersion, firstVersion);
    assert.equal((await variablesOf(functionName, 'live')).API_URL, 'https://api.two.example');
    await switchOnAws(deps(), store.db, project, first.id);
    assert.equal((await clients.lambda.send(new GetAliasCommand({ FunctionName: functionName, Name: 'live' }))).FunctionVersion, firstVersion);
    assert.equal((await variablesOf(functionName, 'live')).API_URL, SECRET);
    assert.equal((await variablesOf(functionName, firstVersion)).API_URL, SECRET);
    assert.equal((await variablesOf(functionName, secondVersion)).API_URL, 'https://api.two.example');
    await switchOnAws(deps(), store.db, project, second.id);
  });

  async function refused(setup: () => Promise<unknown>, code: string, pattern: RegExp, undo: () => Promise<unknown>) {
    await setup();
    const functionName = (await resources()).functionName as string;
    const live = (await clients.lambda.send(new GetAliasCommand({ FunctionName: functionName, Name: 'live' }))).FunctionVersion;
    const d = await deployment();
    const calls = aws.calls.length;
    try {
      await assert.rejects(goLive(d, await build(`refused-${code}`, 'vr')), (err: Error & { code?: string; hint?: string }) => {
        assert.equal(err.code, code);
        assert.match(err.message, pattern);
        assert.ok((err.hint ?? '').length > 10);
        return true;
      });
    } finally {
      await undo();
    }
    // refused before AWS was asked anything: nothing made, configured or published
    assert.deepEqual(aws.calls.slice(calls), []);
    assert.equal((await clients.lambda.send(new GetAliasCommand({ FunctionName: functionName, Name: 'live' }))).FunctionVersion, live);
  }

  test('a variable with a name Lambda or OpenNext owns fails the deployment before anything is published, naming it', async () => {
    await refused(
      () => store.tx((db) => setEnv(db, box, project.id, 'AWS_REGION', { value: 'us-west-2', targets: ['production'] })),
      'AWS_ENV_RESERVED',
      /AWS_REGION \(set by Lambda\)/,
      () => store.tx((db) => deleteEnv(db, project.id, 'AWS_REGION')),
    );
    await refused(
      () => store.tx((db) => setEnv(db, box, project.id, 'CACHE_BUCKET_NAME', { value: 'mine', targets: ['production'] })),
      'AWS_ENV_RESERVED',
      /CACHE_BUCKET_NAME \(set by Slipway for OpenNext\)/,
      () => store.tx((db) => deleteEnv(db, project.id, 'CACHE_BUCKET_NAME')),
    );
  });

  test("past Lambda's 4 KB the deployment fails with the biggest variables named, not with AWS's message quoting the values", async () => {
    await refused(
      async () => {
        await store.tx((db) => setEnv(db, box, project.id, 'BIG_CERT', { value: 'c'.repeat(3000), targets: ['production'] }));
        await store.tx((db) => setEnv(db, box, project.id, 'SMALLER', { value: 's'.repeat(1200), targets: ['production'] }));
      },
      'AWS_ENV_TOO_LARGE',
      /over Lambda's limit of 4096 \(the biggest: BIG_CERT 3\d{3} bytes, SMALLER 12\d\d bytes, API_URL \d+ bytes\)/,
      async () => {
        await store.tx((db) => deleteEnv(db, project.id, 'BIG_CERT'));
        await store.tx((db) => deleteEnv(db, project.id, 'SMALLER'));
      },
    );
    // what AWS itself would have answered (the stand-in models it): the values, quoted back
    const functionName = (await resources()).functionName as string;
    await assert.rejects(clients.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: functionName, Environment: { Variables: { BIG: 'b'.repeat(4100) } } })), (err: Error) => {
      assert.equal(err.name, 'InvalidParameterValueException');
      assert.match(err.message, /exceeded the 4KB limit. String measured: \{"BIG":"bbbb/);
      return true;
    });
  });

  test("an AWS error quoting a variable's value is masked in the deployment's error and AWS record", async () => {
    const d = await deployment();
    aws.failNext('lambda', 'UpdateFunctionConfiguration', { code: 'InvalidParameterValueException', status: 400, message: `Bad variables: {"API_URL":"https://api.two.example"}` });
    await assert.rejects(goLive(d, await build('masked', 'vm')), (err: Error) => {
      assert.match(err.message, /publish-server failed: InvalidParameterValueException: Bad variables: \{"API_URL":"\*{8}"\}/);
      return true;
    });
    const record = await readAwsRecord(store.db, d.id);
    assert.equal(JSON.stringify(record).includes('api.two.example'), false);
    assert.match(record?.error?.message ?? '', /\*{8}/);
  });

  test("a static site's preview is served by Slipway's edge: no alias, the distribution untouched, its files on S3 for a later promote", async () => {
    logs = [];
    const d = await deployment({ branch: 'docs-update', target: 'preview' });
    const r = await resources();
    const distribution = aws.cloudfront.distributions.get(r.distributionId as string);
    const updates = distribution?.updates;
    const calls = aws.calls.length;
    await goLive(d, await build('static-preview'));
    assert.deepEqual(
      aws.calls.slice(calls).map((c) => c.operation),
      [],
      'no Lambda or CloudFront call',
    );
    assert.equal(distribution?.updates, updates);
    const record = await readAwsRecord(store.db, d.id);
    assert.deepEqual(
      record?.steps.map((s) => s.name),
      ['resources', 'upload'],
    );
    assert.equal(record?.alias, undefined);
    assert.equal(record?.servedBy?.target, 'edge');
    assert.equal(record?.servedBy?.url, `http://docs-update--shop.${config.baseDomain}${config.edgePort === 80 ? '' : `:${config.edgePort}`}`);
    assert.ok(logs.some((l) => l.includes(`Slipway's edge serves it at ${record?.servedBy?.url}`)));
    const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: r.bucket as string, Prefix: `deployments/${d.id}/` }));
    assert.deepEqual(
      listed.Contents?.map((o) => o.Key),
      [`deployments/${d.id}/index.html`],
    );
  });
});

test("a preview's Lambda alias never takes production's or an environment's name, whatever its branch is called", () => {
  const preview = (branch: string) => awsAliasFor({ name: 'blog' }, { environment: 'preview', pr_number: null, branch });
  for (const branch of ['live', 'env-staging', 'LIVE']) {
    const alias = preview(branch) ?? '';
    assert.match(alias, /^br-/, branch);
    assert.notEqual(alias, 'live');
  }
  assert.equal(awsAliasFor({ name: 'blog' }, { environment: 'preview', pr_number: 7, branch: 'live' }), 'pr-7');
  assert.equal(awsAliasFor({ name: 'blog' }, { environment: 'production', pr_number: null, branch: 'main' }), 'live');
  assert.equal(awsAliasFor({ name: 'blog' }, { environment: 'staging', pr_number: null, branch: 'live' }), 'env-staging');
});
