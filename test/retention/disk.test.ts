import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { loadConfig } from '../../src/config/index.js';
import { createDeployment, getDeployment } from '../../src/deployments/index.js';
import { Events } from '../../src/events.js';
import { createProject } from '../../src/projects/index.js';
import { Queue } from '../../src/queue/index.js';
import { asDiskFull, diskHealth, diskSpace, watchDiskSpace } from '../../src/retention/index.js';
import { createStoreLookup } from '../../src/routing/index.js';
import { createWorkspace, probeIsolation } from '../../src/sandbox/index.js';
import { SecretBox } from '../../src/secrets.js';
import { Store } from '../../src/store/index.js';
import { runJob } from '../../src/worker/run-job.js';
import { get, listenEdge } from '../edge/helpers.js';
import { makeRepo } from '../helpers/git.js';
import { tempDir, testNodeCacheDir } from '../helpers/paths.js';
import { insertDeployment, storeDeploymentFiles } from './fixture.js';

let tmp: { path: string; cleanup(): Promise<void> };
let store: Store;
before(async () => {
  tmp = await tempDir('slipway-disk-');
  store = await Store.openSqlite(join(tmp.path, 'slipway.db'));
});
after(async () => {
  await store?.close();
  await tmp?.cleanup();
});

test('a build whose disk fills fails with DISK_FULL and a hint, and the edge keeps serving what is live', async (t) => {
  // the blob store on a small file system of its own (a loop-mounted ext4, as a build folder is), filled up
  const disk = await createWorkspace(join(tmp.path, 'small-disk'), 4 * 1024 * 1024, (await probeIsolation()).loop);
  t.after(() => disk.release());
  if (!disk.capped) {
    t.skip('needs root and loop devices to make a small file system that really fills');
    return;
  }
  const box = new SecretBox(randomBytes(32));
  const blobs = new LocalBlobStore(join(tmp.path, 'small-disk', 'blobs'));
  const repo = await makeRepo(join(tmp.path, 'repo'));
  const sha = await repo.commit({ 'index.html': `<h1>new</h1>${'<p>more than fits</p>'.repeat(20_000)}` }, 'new page');
  await repo.push();
  const { project } = await store.tx((db) => createProject(db, box, { name: 'full', repoUrl: repo.url }));
  const live = await storeDeploymentFiles(blobs, { 'index.html': { body: '<h1>live</h1>' } });
  const liveId = await insertDeployment(store.db, project, { status: 'ready', environment: 'production', ageDays: 1, manifestHash: live.manifestHash });
  await store.db.insertInto('aliases').values({ project_id: project.id, name: 'production', deployment_id: liveId, updated_at: Date.now() }).execute();
  await fill(join(tmp.path, 'small-disk', 'filler'));

  const config = loadConfig({ 'data-dir': join(tmp.path, 'data'), 'node-cache-dir': testNodeCacheDir }, {});
  await mkdir(config.dataDir, { recursive: true });
  const queue = new Queue(store, { leaseMs: 60_000 });
  const d = await store.tx((db) => createDeployment(db, queue, box, { project, sha, branch: 'main', trigger: 'api', target: 'production' }));
  const job = await queue.claim('disk-test');
  assert.ok(job);
  const { edge, port } = await listenEdge({ lookup: createStoreLookup(store, 'localhost'), blobs });
  try {
    await runJob({ store, queue, blobs, config, events: new Events(), box }, job, new AbortController().signal);
    const failed = await getDeployment(store.db, d.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error_code, 'DISK_FULL');
    assert.match(failed.error_message ?? '', /ran out of space/);
    assert.equal(failed.attempts, 1, 'not retried: it would fail the same way');
    const res = await get(port, 'full.localhost', '/');
    assert.equal(res.status, 200);
    assert.equal(res.text, '<h1>live</h1>');
  } finally {
    await edge.close();
  }
});

test('ENOSPC from anywhere becomes the catalogued DISK_FULL error; other errors stay as they are', () => {
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  const mapped = asDiskFull(enospc);
  assert.equal(mapped?.code, 'DISK_FULL');
  assert.equal(mapped?.status, 507);
  assert.match(mapped?.hint ?? '', /slipway gc/);
  assert.equal(mapped?.cause, enospc);
  assert.equal(asDiskFull(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' })), undefined);
  assert.equal(asDiskFull('a string'), undefined);
});

test('free space of the data dir: a warning once when it runs low, and /healthz says so', async () => {
  const space = await diskSpace(tmp.path);
  assert.ok(space.totalBytes > 0 && space.freeBytes >= 0 && space.freeBytes <= space.totalBytes);
  assert.equal(diskHealth(space).status, space.low ? 'low' : 'ok');

  const logged: string[] = [];
  // a threshold above the disk's size: it always counts as low
  const watch = watchDiskSpace(tmp.path, (line) => logged.push(line), { lowBytes: space.totalBytes + 1, everyMs: 60_000 });
  try {
    const first = await watch.check();
    await watch.check();
    assert.equal(first?.low, true);
    assert.equal(logged.length, 1, `one warning, not one per check: ${logged.join(' | ')}`);
    assert.match(logged[0]!, /only .* GiB free .*slipway gc/);
    const health = diskHealth(watch.latest());
    assert.equal(health.status, 'low');
    assert.match(health.warning ?? '', /builds fail when the disk fills/);
  } finally {
    watch.stop();
  }
});

/** Write zeros to `file` until the file system says it is full. */
async function fill(file: string): Promise<void> {
  const handle = await open(file, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) await handle.write(chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await handle.close();
  }
}
