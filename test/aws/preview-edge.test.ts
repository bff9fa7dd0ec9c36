import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createTeam } from '../../src/auth/accounts.js';
import { packageOutput } from '../../src/artifact/index.js';
import { LocalBlobStore } from '../../src/blobs/index.js';
import type { BuildResult } from '../../src/build/types.js';
import { type Config, loadConfig } from '../../src/config/index.js';
import { createDeployment, getDeployment, movePreviewAliases } from '../../src/deployments/index.js';
import { createEdgeServer, type EdgeServer } from '../../src/edge/index.js';
import type { SiteRules } from '../../src/manifest/index.js';
import { checkFunctionOrigin } from '../../src/edge/function-origin.js';
import { createProject, setEnv } from '../../src/projects/index.js';
import { Queue } from '../../src/queue/index.js';
import { createStoreLookup } from '../../src/routing/index.js';
import { createRuntimeGateway } from '../../src/runtime/index.js';
import { SecretBox } from '../../src/secrets.js';
import type { Deployment, Project, Store } from '../../src/store/index.js';
import { type AwsBuildOutput, goLiveOnAws, readAwsRecord, saveTargetSetting } from '../../src/targets/aws/index.js';
import { saveAwsAccess } from '../../src/targets/aws/access.js';
import { saveAwsRecord } from '../../src/targets/aws/record.js';
import { type AwsStandIn, startAwsStandIn } from '../helpers/aws/index.js';
import { forEachBackend, type OpenedStore } from '../helpers/backends.js';
import { tempDir } from '../helpers/paths.js';
import { type RunningS3, startS3rver } from '../helpers/s3rver.js';
import { echoZip } from './fixtures.js';

// A Next.js preview on AWS at its Slipway URLs, through the real edge over a socket: its static
// files from its manifest, everything else proxied to its Lambda alias's Function URL, which the
// stand-in serves by running the published version's zip (a small echo handler here; the real
// OpenNext build goes the same way in next.test.ts).
forEachBackend('AWS: a Next.js preview at its Slipway URL', (backend) => {
  let opened: OpenedStore;
  let store: Store;
  let box: SecretBox;
  let queue: Queue;
  let project: Project;
  let config: Config;
  let s3: RunningS3;
  let aws: AwsStandIn;
  let dir: { path: string; cleanup: () => Promise<void> };
  let blobs: LocalBlobStore;
  let edge: EdgeServer;
  let stopRuntime: () => Promise<void>;
  let port: number;
  const edgeLog: string[] = [];
  const PR = 'pr-7--shop.localhost';

  before(async () => {
    opened = await backend.open();
    store = opened.store;
    box = new SecretBox(randomBytes(32));
    queue = new Queue(store, { leaseMs: 30_000 });
    s3 = await startS3rver();
    aws = await startAwsStandIn({ s3 });
    aws.lambda.updatePolls = 0;
    dir = await tempDir('slipway-aws-preview-edge-');
    blobs = new LocalBlobStore(join(dir.path, 'blobs'));
    config = loadConfig({ 'data-dir': join(dir.path, 'data'), 'aws-endpoint': aws.endpoint, 'aws-s3-endpoint': aws.endpoint }, {});
    const team = await createTeam(store.db, { slug: 'acme' }, undefined);
    project = (await store.tx((db) => createProject(db, box, { name: 'shop', repoUrl: 'file:///nowhere' }, team.id))).project;
    await saveAwsAccess(store.db, box, team.id, { kind: 'keys', region: 'eu-west-1', ...aws.credentials });
    await saveTargetSetting(store.db, project.id, { target: 'aws', environment: '', resources: { functionRoleArn: 'arn:aws:iam::123456789012:role/slipway-fn' } });
    await store.tx((db) => setEnv(db, box, project.id, 'GREETING', { value: 'hello from the preview', targets: ['preview'] }));
    const { gateway, runtime } = createRuntimeGateway(blobs, dir.path, { memoryMb: 0, requestTimeoutMs: 10_000, idleMs: 60_000 });
    stopRuntime = () => runtime.close();
    // as `slipway up` makes it: the lookup reaches Function URLs through SLIPWAY_AWS_ENDPOINT
    edge = createEdgeServer({ lookup: createStoreLookup(store, 'localhost', config.awsEndpoints), blobs, servers: gateway, pollMs: 20, log: (m) => edgeLog.push(m) });
    await new Promise<void>((resolve) => edge.server.listen(0, '127.0.0.1', resolve));
    port = (edge.server.address() as AddressInfo).port;
  });
  after(async () => {
    await edge?.close();
    await stopRuntime?.();
    await aws?.close();
    await s3?.cleanup();
    await dir?.cleanup();
    await opened?.cleanup();
  });

  /** What the worker does for a push to pull request 7: build, go live on AWS, package, go ready, move the preview aliases. */
  async function pushPreview(label: string, rules?: SiteRules): Promise<Deployment> {
    const d = await store.tx((db) => createDeployment(db, queue, box, { project, sha: randomBytes(20).toString('hex'), branch: 'feature', trigger: 'api', target: 'preview', prNumber: 7 }));
    const assetsDir = join(dir.path, label);
    await mkdir(join(assetsDir, '_next', 'static', 'chunks'), { recursive: true });
    const script = `console.log(${JSON.stringify(label)})`;
    await writeFile(join(assetsDir, '_next', 'static', 'chunks', `main-${label}.js`), script);
    const zipPath = join(dir.path, `${label}.zip`);
    await writeFile(zipPath, await echoZip(label));
    const output: AwsBuildOutput = { assetsDir, functions: [{ name: 'server', zipPath, handler: 'index.handler' }], immutable: [] };
    const build = {
      outputDir: assetsDir,
      packageManager: 'none',
      installMs: 0,
      buildMs: 0,
      cache: { dependencies: 'disabled' },
      framework: { id: 'nextjs', name: 'Next.js', reason: 'test' },
      aws: output,
    };
    await goLiveOnAws({ store, box, config }, project, d, build as unknown as BuildResult, (line) => logs.push(line));
    const { manifestHash } = await packageOutput({ outputDir: assetsDir, blobs, rules, log: () => {} });
    await store.tx(async (db) => {
      await db.updateTable('deployments').set({ status: 'ready', manifest_hash: manifestHash, finished_at: Date.now() }).where('id', '=', d.id).execute();
      await movePreviewAliases(db, project.name, await getDeployment(db, d.id));
    });
    return getDeployment(store.db, d.id);
  }
  const logs: string[] = [];

  function ask(host: string, path: string, opts: { method?: string; body?: string; headers?: Record<string, string> } = {}) {
    return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: { host, ...opts.headers }, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      });
      req.setTimeout(15_000, () => req.destroy(new Error(`no answer from the edge for ${host}${path}`)));
      req.on('error', reject);
      req.end(opts.body);
    });
  }
  /** until the edge, polling the alias generation, serves `deploymentId` at `host` */
  async function servedBy(host: string, path: string, deploymentId: string) {
    const until = Date.now() + 10_000;
    for (;;) {
      const res = await ask(host, path);
      if (res.headers['x-slipway-deployment'] === deploymentId || Date.now() > until) return res;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  let first: Deployment;
  let functionUrl: string;

  test('its pull request URL answers: static files from the manifest, pages and POSTs from its Function URL, with the visitor host forwarded', async () => {
    first = await pushPreview('one');
    const record = await readAwsRecord(store.db, first.id);
    functionUrl = record?.alias?.url as string;
    assert.match(functionUrl, /^https:\/\/[0-9a-f]{32}\.lambda-url\.eu-west-1\.on\.aws\/$/);
    const prUrl = `http://${PR}${config.edgePort === 80 ? '' : `:${config.edgePort}`}`;
    assert.deepEqual(record?.servedBy, { target: 'edge', url: prUrl, functionUrl, reason: record?.servedBy?.reason });
    assert.ok(logs.some((l) => l.includes(`Slipway's edge serves it at ${prUrl}`) && l.includes(functionUrl)));

    const calls = aws.functionUrls.invocations.length;
    const asset = await ask(PR, '/_next/static/chunks/main-one.js');
    assert.equal(asset.status, 200);
    assert.equal(asset.text, 'console.log("one")');
    assert.equal(asset.headers['x-slipway-deployment'], first.id);
    assert.equal(aws.functionUrls.invocations.length, calls, 'a file of the manifest never reaches the function');

    const page = await ask(PR, '/products/42?color=red&size=m', { headers: { cookie: 'session=abc' } });
    assert.equal(page.status, 200, page.text);
    assert.equal(page.headers['x-from'], 'function');
    assert.equal(page.headers['x-slipway-deployment'], first.id);
    assert.deepEqual(page.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
    const seen = JSON.parse(page.text);
    assert.deepEqual(seen, {
      label: 'one',
      method: 'GET',
      path: '/products/42',
      query: 'color=red&size=m',
      // Lambda routes by the Function URL's host; the visitor's is forwarded (OpenNext takes it as the request's host)
      host: new URL(functionUrl).host,
      forwardedHost: PR,
      cookies: ['session=abc'],
      body: null,
      greeting: 'hello from the preview',
    });

    const posted = await ask(PR, '/api/orders', { method: 'POST', body: '{"qty":3}', headers: { 'content-type': 'application/json' } });
    assert.equal(posted.status, 200, posted.text);
    assert.equal(JSON.parse(posted.text).method, 'POST');
    assert.equal(JSON.parse(posted.text).body, '{"qty":3}');

    // the branch's preview and the deployment's own URL are the same preview
    for (const host of ['feature--shop.localhost', `${first.id}--shop.localhost`]) {
      const other = await ask(host, '/checkout');
      assert.equal(other.status, 200, `${host}: ${other.text}`);
      assert.equal(JSON.parse(other.text).forwardedHost, host);
    }
  });

  test("a newer push takes the alias: its URL answers with the new function, the older deployment's own URL with its files only", async () => {
    const second = await pushPreview('two');
    const page = await servedBy(PR, '/products/1', second.id);
    assert.equal(page.headers['x-slipway-deployment'], second.id);
    assert.equal(JSON.parse(page.text).label, 'two');
    // Lambda's pr-7 alias runs the second version now: the first's own URL must not show it
    const own = `${first.id}--shop.localhost`;
    const calls = aws.functionUrls.invocations.length;
    const old = await servedBy(own, '/products/1', first.id);
    assert.equal(old.status, 404);
    assert.equal(aws.functionUrls.invocations.length, calls);
    assert.equal((await ask(own, '/_next/static/chunks/main-one.js')).status, 200);
    assert.equal((await ask(own, '/api/orders', { method: 'POST', body: 'x' })).status, 405);
  });

  test('a function that does not answer gives the 502 page naming the deployment, at once', async () => {
    const current = (await ask(PR, '/_next/static/chunks/main-two.js')).headers['x-slipway-deployment'] as string;
    aws.functionUrls.down = true;
    try {
      for (const method of ['GET', 'POST']) {
        const res = await ask(PR, '/products/1', { method, ...(method === 'POST' ? { body: 'x' } : {}) });
        assert.equal(res.status, 502);
        assert.match(res.text, new RegExp(`deployment <code>${current}</code> on AWS did not answer`));
        assert.equal(res.headers['x-slipway-deployment'], current);
      }
      assert.ok(edgeLog.some((m) => m.includes(`the function of deployment ${current} did not answer`)));
      // its static files do not need the function
      assert.equal((await ask(PR, '/_next/static/chunks/main-two.js')).status, 200);
    } finally {
      aws.functionUrls.down = false;
    }
    assert.equal((await ask(PR, '/products/1')).status, 200);
  });

  test('only a recorded https Lambda Function URL is ever proxied to', async () => {
    const current = (await ask(PR, '/_next/static/chunks/main-two.js')).headers['x-slipway-deployment'] as string;
    const record = await readAwsRecord(store.db, current);
    assert.ok(record?.alias !== undefined);
    const calls = aws.functionUrls.invocations.length;
    for (const url of ['https://127.0.0.1/', `http://${new URL(functionUrl).host}/`, 'https://example.com/', 'https://x.lambda-url.eu-west-1.on.aws.example.com/']) {
      await saveAwsRecord(store.db, current, { ...record, alias: { ...record.alias, url } });
      edge.invalidate();
      const res = await ask(PR, '/products/1');
      assert.equal(res.status, 404, url);
      assert.equal(aws.functionUrls.invocations.length, calls, url);
    }
    await saveAwsRecord(store.db, current, record);
    edge.invalidate();
    assert.equal((await ask(PR, '/products/1')).status, 200);
    // the edge checks again what the lookup hands it
    assert.equal(typeof checkFunctionOrigin({ url: 'https://abc.lambda-url.eu-west-1.on.aws:8443/' }), 'string');
    assert.equal(typeof checkFunctionOrigin({ url: 'http://abc.lambda-url.eu-west-1.on.aws/' }), 'string');
    assert.equal(typeof checkFunctionOrigin({ url: 'https://abc.lambda-url.eu-west-1.on.aws/', via: 'file:///etc/passwd' }), 'string');
    assert.equal(typeof checkFunctionOrigin({ url: 'https://abc.lambda-url.eu-west-1.on.aws/' }), 'object');
  });

  test("the site's own rules apply first: headers on the function's answers, a rewrite reaches the function as its destination", async () => {
    const rules: SiteRules = {
      platform: 'vercel',
      routes: [
        { kind: 'headers', src: '^/(.*)$', headers: [['x-rule', 'on']], origin: 'vercel.json headers[0]' },
        { kind: 'rewrite', src: '^/old/(.*)$', dest: '/new/$1', origin: 'vercel.json rewrites[0]' },
      ],
    };
    const third = await pushPreview('three', rules);
    const res = await servedBy(PR, '/old/page?x=1', third.id);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-rule'], 'on');
    assert.equal(res.headers['x-from'], 'function');
    const seen = JSON.parse(res.text);
    assert.equal(seen.path, '/new/page');
    assert.equal(seen.query, 'x=1');
    const asset = await ask(PR, '/_next/static/chunks/main-three.js');
    assert.equal(asset.status, 200);
    assert.equal(asset.headers['x-rule'], 'on');
  });
});
