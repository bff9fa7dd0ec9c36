import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { createDeployment, deploymentServerSettings, rollback, setProduction } from '../../src/deployments/index.js';
import { createEdgeServer } from '../../src/edge/index.js';
import { createProject, setEnv, updateProject } from '../../src/projects/index.js';
import { Queue } from '../../src/queue/index.js';
import { createStoreLookup } from '../../src/routing/index.js';
import { createRuntimeGateway } from '../../src/runtime/index.js';
import { SecretBox } from '../../src/secrets.js';
import { Store, type Project } from '../../src/store/index.js';
import { tempDir } from '../helpers/paths.js';
import { packageSsrSite } from './helpers.js';

// The edge as `slipway up` wires it, minus the build: a real SQLite store, deployments made by
// createDeployment (which copies the project's variables), the store lookup, and the runtime
// gateway reading each deployment's own variables and limits when it starts its server.
let tmp: Awaited<ReturnType<typeof tempDir>>;
let store: Store;
let box: SecretBox;
let queue: Queue;
let project: Project;
let manifestHash: string;
let port: number;
let edge: ReturnType<typeof createEdgeServer>;
let close: () => Promise<void>;

before(async () => {
  tmp = await tempDir('slipway-env-');
  store = await Store.openSqlite(join(tmp.path, 'slipway.db'));
  box = new SecretBox(randomBytes(32));
  queue = new Queue(store, { leaseMs: 30_000 });
  const blobs = new LocalBlobStore(join(tmp.path, 'blobs'));
  manifestHash = await packageSsrSite(tmp.path, blobs);
  project = (await store.tx((db) => createProject(db, box, { name: 'envapp', repoUrl: 'file:///nowhere' }))).project;

  const { gateway, runtime } = createRuntimeGateway(blobs, tmp.path, { memoryMb: 0, requestTimeoutMs: 30_000, idleMs: 60_000 }, (id) => deploymentServerSettings(store.db, box, id));
  edge = createEdgeServer({ lookup: createStoreLookup(store, 'localhost'), blobs, servers: gateway, drainGraceMs: 500 });
  await new Promise<void>((resolve) => edge.server.listen(0, '127.0.0.1', resolve));
  port = (edge.server.address() as AddressInfo).port;
  close = async () => {
    await edge.close();
    await runtime.close();
  };
});

after(async () => {
  await close?.();
  await store?.close();
  await tmp?.cleanup();
});

/** A deployment as the worker leaves it: created (variables copied), then ready with a manifest. */
async function deploy(target: 'production' | 'preview', branch: string): Promise<string> {
  const fresh = await store.db.selectFrom('projects').selectAll().where('id', '=', project.id).executeTakeFirstOrThrow();
  const d = await store.tx((db) => createDeployment(db, queue, box, { project: fresh, sha: randomBytes(20).toString('hex'), branch, trigger: 'api', target }));
  await store.tx(async (db) => {
    await db.updateTable('deployments').set({ status: 'ready', manifest_hash: manifestHash, finished_at: Date.now() }).where('id', '=', d.id).execute();
    if (target === 'production') await setProduction(db, { ...d, status: 'ready', manifest_hash: manifestHash });
  });
  await edge.refresh();
  return d.id;
}

function call(host: string, path = '/'): Promise<{ status: number; deployment: unknown; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, deployment: res.headers['x-slipway-deployment'], text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

const envOf = async (host: string) => (JSON.parse((await call(host)).text) as { env: Record<string, string> }).env;

test("a server runs with its deployment's variables; a rollback brings back the old deployment with its old ones", async () => {
  await store.tx((db) => setEnv(db, box, project.id, 'GREETING', { value: 'hello from v1' }));
  await store.tx((db) => setEnv(db, box, project.id, 'PREVIEW_ONLY', { value: 'preview things', targets: ['preview'] }));
  const v1 = await deploy('production', 'main');
  const first = await envOf('envapp.localhost');
  assert.equal(first.GREETING, 'hello from v1');
  assert.equal(first.PREVIEW_ONLY, undefined, 'production does not get preview variables');

  await store.tx((db) => setEnv(db, box, project.id, 'GREETING', { value: 'hello from v2' }));
  assert.equal((await envOf('envapp.localhost')).GREETING, 'hello from v1', 'a change waits for the next deployment');
  const v2 = await deploy('production', 'main');
  assert.equal((await call('envapp.localhost')).deployment, v2);
  assert.equal((await envOf('envapp.localhost')).GREETING, 'hello from v2');

  await rollback(store, project);
  await edge.refresh();
  const back = await call('envapp.localhost');
  assert.equal(back.deployment, v1);
  assert.equal((JSON.parse(back.text) as { env: Record<string, string> }).env.GREETING, 'hello from v1', 'the old deployment keeps its old variables');
  assert.equal((await envOf(`${v2}--envapp.localhost`)).GREETING, 'hello from v2', 'and v2 keeps its own at its URL');

  const preview = await deploy('preview', 'feature');
  const previewEnv = await envOf(`${preview}--envapp.localhost`);
  assert.equal(previewEnv.PREVIEW_ONLY, 'preview things');
  assert.equal(previewEnv.GREETING, 'hello from v2');
  // loopback (as localhost: see src/runtime/server-process.ts), or all of the sandbox's own network namespace (where only the edge reaches it)
  assert.equal(previewEnv.PORT !== undefined && ['localhost', '0.0.0.0'].includes(previewEnv.HOSTNAME ?? ''), true, 'the runtime still decides where it listens');
});

test("a deployment's own request timeout holds at the edge (504), and stays with it", async () => {
  await store.tx((db) => updateProject(db, project.id, { serverRequestTimeoutSeconds: 1 }));
  const slow = await deploy('production', 'main');
  await store.tx((db) => updateProject(db, project.id, { serverRequestTimeoutSeconds: null }));
  const started = Date.now();
  const res = await call('envapp.localhost', '/hang');
  assert.equal(res.status, 504);
  assert.ok(Date.now() - started < 10_000, 'the 1 s limit, not the 30 s one');
  assert.equal((await call(`${slow}--envapp.localhost`, '/hang')).status, 504, 'changing the project later does not change the deployment');
});
