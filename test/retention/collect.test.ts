import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { type BlobStore, type FileBlobStore, LocalBlobStore } from '../../src/blobs/index.js';
import { S3BlobStore } from '../../src/blobs/s3.js';
import { loadConfig } from '../../src/config/index.js';
import { createDeployment, getDeployment } from '../../src/deployments/index.js';
import { Events } from '../../src/events.js';
import { createProject } from '../../src/projects/index.js';
import { Queue } from '../../src/queue/index.js';
import { collectGarbage, type CollectionReport, setRetention } from '../../src/retention/index.js';
import { createStoreLookup } from '../../src/routing/index.js';
import { SecretBox } from '../../src/secrets.js';
import type { DeploymentStatus, Project } from '../../src/store/index.js';
import { runJob } from '../../src/worker/run-job.js';
import type { EdgeServer } from '../../src/edge/index.js';
import { get, listenEdge } from '../edge/helpers.js';
import { forEachBackend, type OpenedStore } from '../helpers/backends.js';
import { makeRepo } from '../helpers/git.js';
import { tempDir, testNodeCacheDir } from '../helpers/paths.js';
import { type RunningS3, startS3rver, useS3rverCredentials } from '../helpers/s3rver.js';
import { type BlobSizes, insertDeployment, type MadeFile, storeDeploymentFiles } from './fixture.js';

interface Made {
  project: Project;
  id: string;
  i: number;
  status: DeploymentStatus;
  files: Record<string, MadeFile>;
  blobs: BlobSizes;
  kept: boolean;
}

const PROJECTS = [
  { name: 'alpha', count: 20 },
  { name: 'beta', count: 20, keepProduction: 2 },
  { name: 'gamma', count: 10, keepProduction: 2, keepDays: 30 },
];

/** The blob store of a backend: a directory beside SQLite, a bucket on s3rver beside PostgreSQL. */
async function openBlobs(backend: string, dir: string, s3: RunningS3 | undefined): Promise<BlobStore & { close?: () => Promise<void> }> {
  if (backend === 'sqlite' || s3 === undefined) return new LocalBlobStore(join(dir, 'blobs'));
  return new S3BlobStore({ bucket: s3.bucket, prefix: `gc-${randomBytes(4).toString('hex')}/`, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true }, { tmpDir: dir });
}

async function allBlobs(blobs: BlobStore): Promise<Set<string>> {
  const found = new Set<string>();
  for await (const b of blobs.list()) found.add(b.hash);
  return found;
}

forEachBackend('retention and garbage collection', (backend) => {
  let opened: OpenedStore;
  let tmp: { path: string; cleanup(): Promise<void> };
  let s3: RunningS3 | undefined;
  let blobs: BlobStore & { close?: () => Promise<void> };
  before(async () => {
    opened = await backend.open();
    tmp = await tempDir('slipway-gc-');
    if (backend.name === 'postgres') {
      useS3rverCredentials();
      s3 = await startS3rver();
    }
    blobs = await openBlobs(backend.name, tmp.path, s3);
  });
  let edge: EdgeServer | undefined;
  after(async () => {
    await edge?.close();
    await blobs?.close?.();
    await s3?.cleanup();
    await opened?.cleanup();
    await tmp?.cleanup();
  });

  it('50 deployments over 3 projects and a deploy during the sweep: what stays serves every file, the freed bytes are what only the removed ones used', async () => {
    const { store } = opened;
    const box = new SecretBox(randomBytes(32));
    const made: Made[] = [];
    const projects = new Map<string, Project>();
    const repo = await makeRepo(join(tmp.path, 'repo'));
    for (const spec of PROJECTS) {
      const { project } = await store.tx((db) => createProject(db, box, { name: spec.name, repoUrl: repo.url }));
      projects.set(spec.name, project);
      await setRetention(store.db, project.id, { keepProduction: spec.keepProduction ?? null, keepDays: spec.keepDays ?? null });
      for (let i = 0; i < spec.count; i++) {
        const environment = i % 3 === 0 ? 'production' : 'preview';
        const status: DeploymentStatus = i === 1 ? 'failed' : spec.name === 'alpha' && i === 2 ? 'awaiting-approval' : spec.name === 'beta' && i === 4 ? 'building' : 'ready';
        const files: Record<string, MadeFile> =
          status === 'failed' || status === 'building'
            ? {}
            : {
                'index.html': { body: `<h1>${spec.name} ${i}</h1>` },
                'shared.js': { body: `/* ${spec.name}: in every deployment */` },
                [`pair-${i >> 1}.js`]: { body: `/* ${spec.name}: in deployments ${i >> 1} x 2 */` },
                'app.js': { body: `console.log(${JSON.stringify(`${spec.name} ${i}`)});\n`.repeat(60), gzip: true },
              };
        const stored = Object.keys(files).length === 0 ? undefined : await storeDeploymentFiles(blobs, files);
        const ageDays = (spec.count - i) * 7 + 0.5;
        const id = await insertDeployment(store.db, project, { status, environment, ageDays, manifestHash: stored?.manifestHash ?? null });
        await store.db
          .insertInto('log_lines')
          .values({ deployment_id: id, n: 1, at: Date.now(), text: `build log of ${spec.name} ${i}` })
          .execute();
        made.push({ project, id, i, status, files, blobs: stored?.blobs ?? new Map(), kept: false });
      }
    }
    assert.equal(made.length, 50);
    const alias = async (project: Project, name: string, d: Made) => {
      await store.db.insertInto('aliases').values({ project_id: project.id, name, deployment_id: d.id, updated_at: Date.now() }).execute();
    };
    for (const spec of PROJECTS) {
      const own = made.filter((d) => d.project.name === spec.name);
      const production = own.filter((d) => d.i % 3 === 0 && d.status === 'ready');
      await alias(own[0]!.project, 'production', production.at(-1)!);
    }
    // an old preview a branch alias still points at
    const aliasedPreview = made.find((d) => d.project.name === 'alpha' && d.i === 5)!;
    await alias(aliasedPreview.project, 'branch:old-feature', aliasedPreview);

    // what the documented rules keep, worked out from each deployment's own facts
    for (const spec of PROJECTS) {
      const own = made.filter((d) => d.project.name === spec.name);
      const newestProduction = own.filter((d) => d.i % 3 === 0 && d.status === 'ready').slice(-(spec.keepProduction ?? 10));
      for (const d of own) {
        const ageDays = (spec.count - d.i) * 7 + 0.5;
        d.kept = d === aliasedPreview || newestProduction.includes(d) || d.status === 'building' || d.status === 'awaiting-approval' || ageDays < (spec.keepDays ?? 90);
      }
    }
    const removed = made.filter((d) => !d.kept);
    const keptBlobs = new Set(made.filter((d) => d.kept).flatMap((d) => [...d.blobs.keys()]));
    const freed = new Map<string, number>();
    for (const d of removed) for (const [hash, size] of d.blobs) if (!keptBlobs.has(hash)) freed.set(hash, size);
    const freedBytes = [...freed.values()].reduce((a, b) => a + b, 0);
    assert.ok(removed.length >= 15 && freed.size > 40, `the fixture removes enough (${removed.length} deployments, ${freed.size} blobs)`);

    const deps = { store, blobs, dataDir: tmp.path };
    const before = await allBlobs(blobs);
    // materialized server bundles (as the runtime writes them) of one deployment that goes and one that stays
    const keptOne = made.find((d) => d.kept && d.status === 'ready')!;
    for (const d of [removed[0]!, keptOne]) await mkdir(join(tmp.path, 'runtime', d.id), { recursive: true });
    // a real edge, already serving one of the deployments that will go
    const listening = await listenEdge({ lookup: createStoreLookup(store, 'localhost'), blobs, pollMs: 20 });
    edge = listening.edge;
    const port = listening.port;
    const doomed = removed.find((d) => d.files['index.html'] !== undefined)!;
    const doomedHost = `${doomed.id}--${doomed.project.name}.localhost`;
    assert.equal((await get(port, doomedHost, '/')).status, 200);

    // a dry run lists exactly that and changes nothing
    const dry = await collectGarbage(deps, { dryRun: true, graceMs: 0 });
    assert.deepEqual(dry.deployments.map((d) => d.id).sort(), removed.map((d) => d.id).sort());
    assert.equal(dry.blobs.count, freed.size);
    assert.equal(dry.blobs.bytes, freedBytes);
    assert.deepEqual(await allBlobs(blobs), before);
    assert.deepEqual(dry.serverBundles, [removed[0]!.id]);
    assert.equal((await get(port, doomedHost, '/')).status, 200, 'a dry run changes nothing the edge serves');
    assert.equal((await getDeployment(store.db, removed[0]!.id)).status, removed[0]!.status);

    // a build of alpha whose only file has the bytes of a removed deployment's page: the blob is
    // stored (and unreferenced) when the build looks, and the sweep runs right after it looked
    const reused = made.find((d) => d.project.name === 'alpha' && d.i === 4)!;
    assert.equal(reused.kept, false);
    const page = reused.files['index.html']!.body;
    const sha = await repo.commit({ 'index.html': page }, 'a page like an old one');
    await repo.push('main');
    await repo.push('later');
    let collection: Promise<CollectionReport> | undefined;
    const duringSweep: FileBlobStore = {
      has: async (hash) => {
        const present = await blobs.has(hash);
        collection ??= collectGarbage(deps, { graceMs: 0 });
        await collection;
        return present;
      },
      put: (h, b) => blobs.put(h, b),
      putFile: (h, f) => blobs.putFile(h, f),
      get: (h) => blobs.get(h),
      stream: (h, r) => blobs.stream(h, r),
      list: () => blobs.list(),
      delete: (h) => blobs.delete(h),
      // a static build never asks for a local file (only server bundles do)
      localPath: (h) => ('localPath' in blobs ? (blobs as FileBlobStore).localPath(h) : Promise.reject(new Error(`no local file for ${h} in this test's store`))),
    };
    const config = loadConfig({ 'data-dir': join(tmp.path, 'data'), 'node-cache-dir': testNodeCacheDir }, {});
    await mkdir(config.dataDir, { recursive: true });
    const queue = new Queue(store, { leaseMs: 60_000 });
    const alpha = projects.get('alpha')!;
    const deployment = await store.tx((db) => createDeployment(db, queue, box, { project: alpha, sha, branch: 'later', trigger: 'api', target: 'preview' }));
    const job = await queue.claim('gc-test-worker');
    assert.equal(job?.deploymentId, deployment.id);
    await runJob({ store, queue, blobs: duringSweep, config, events: new Events(), box }, job!, new AbortController().signal);
    const log = (await store.db.selectFrom('log_lines').select('text').where('deployment_id', '=', deployment.id).orderBy('n').execute()).map((l) => l.text);
    const built = await getDeployment(store.db, deployment.id);
    assert.equal(built.status, 'ready', log.join('\n'));
    assert.ok(collection !== undefined, 'the collection ran during the build');

    const report = await collection;
    assert.equal(report.ran, true);
    assert.deepEqual(report.deployments.map((d) => d.id).sort(), removed.map((d) => d.id).sort());
    assert.equal(report.blobs.count, freed.size, 'the blobs only removed deployments referenced, and no other');
    assert.equal(report.blobs.bytes, freedBytes);
    for (const d of removed) {
      const row = await getDeployment(store.db, d.id);
      assert.equal(row.status, 'removed');
      assert.equal(row.manifest_hash, null);
    }
    const logsLeft = new Set((await store.db.selectFrom('log_lines').select('deployment_id').execute()).map((l) => l.deployment_id));
    for (const d of made) assert.equal(logsLeft.has(d.id), d.kept, `the log of ${d.project.name} ${d.i}`);

    assert.deepEqual(report.serverBundles, [removed[0]!.id]);
    assert.deepEqual(await readdir(join(tmp.path, 'runtime')), [keptOne.id]);

    const after = await allBlobs(blobs);
    for (const hash of keptBlobs) assert.ok(after.has(hash), `kept blob ${hash}`);
    for (const hash of freed.keys()) if (hash !== [...reused.blobs.keys()][0]) assert.ok(!after.has(hash), `freed blob ${hash}`);

    // the real edge: every kept deployment serves every file at its own host, the removed ones
    // (also the one it was serving before) say so
    {
      for (const d of made) {
        const host = `${d.id}--${d.project.name}.localhost`;
        if (!d.kept) {
          const res = await get(port, host, '/');
          assert.equal(res.status, 404);
          assert.match(res.text, /Deployment removed/);
          continue;
        }
        for (const [path, file] of Object.entries(d.files)) {
          const res = await get(port, host, `/${path}`, file.gzip === true ? { headers: { 'accept-encoding': 'identity' } } : {});
          assert.equal(res.status, 200, `${host}/${path}`);
          assert.equal(res.text, file.body, `${host}/${path}`);
          if (file.gzip === true) {
            const zipped = await get(port, host, `/${path}`, { headers: { 'accept-encoding': 'gzip' } });
            assert.equal(zipped.status, 200);
            assert.equal(zipped.headers['content-encoding'], 'gzip', `${host}/${path} has its variant`);
          }
        }
      }
      const res = await get(port, `${built.id}--alpha.localhost`, '/');
      assert.equal(res.status, 200);
      assert.equal(res.text, page, 'the build that ran during the sweep serves its page: the fence made it store the blob again');
    }
    assert.ok(
      log.some((l) => l.includes('garbage collection ran while this deployment was packaged')),
      log.join('\n'),
    );
  });
});
