import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Queue } from '../../src/queue/index.js';
import type { Store } from '../../src/store/index.js';
import { sweepStaleBuilds } from '../../src/worker/stale-builds.js';
import { forEachBackend, type OpenedStore } from '../helpers/backends.js';
import { tempDir } from '../helpers/paths.js';

// Build folders left by attempts that no longer run are removed at worker start; the folder
// of an attempt a live worker holds (here, or on another machine sharing the database) is not.
// On SQLite and PostgreSQL (where "unexpired" is by the database's clock).
forEachBackend('stale build folders', (backend) => {
  let opened: OpenedStore;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: Store;
  let queue: Queue;

  before(async () => {
    dir = await tempDir();
    opened = await backend.open();
    store = opened.store;
    queue = new Queue(store, { leaseMs: 60_000 });
    await store.db
      .insertInto('projects')
      .values({
        id: 'p1',
        name: 'p',
        repo_url: 'x',
        production_branch: 'main',
        root_directory: null,
        install_command: null,
        build_command: null,
        output_directory: null,
        build_timeout_seconds: null,
        webhook_secret: 'x',
        created_at: 0,
      })
      .execute();
  });
  after(async () => {
    await opened?.cleanup();
    await dir?.cleanup();
  });

  let n = 0;
  /** A deployment whose build job `workerId` has claimed (attempt 1). */
  async function claimedBy(workerId: string): Promise<string> {
    const id = `d${++n}`;
    await store.tx(async (db) => {
      await db
        .insertInto('deployments')
        .values({
          id,
          project_id: 'p1',
          seq: n,
          status: 'building',
          target: 'production',
          environment: 'production',
          trigger: 'api',
          branch: 'main',
          commit_sha: 'a'.repeat(40),
          commit_message: null,
          commit_author: null,
          manifest_hash: null,
          files_total: null,
          files_uploaded: null,
          bytes_uploaded: null,
          timings: null,
          build_info: null,
          error_code: null,
          error_phase: null,
          error_message: null,
          attempts: 1,
          created_at: Date.now(),
          started_at: null,
          finished_at: null,
        })
        .execute();
      await queue.enqueue(db, { kind: 'build', deploymentId: id });
    });
    const job = await queue.claim(workerId);
    assert.equal(job?.deploymentId, id);
    return id;
  }

  test('removes the folders and images of dead attempts, keeps those of live workers here and elsewhere', async () => {
    const exited = spawnSync(process.execPath, ['-e', '']).pid; // a pid that is gone now
    const live = await claimedBy(`${hostname()}-${process.pid}-abcdef`);
    const elsewhere = await claimedBy('another-machine-4242-012345');
    const dead = await claimedBy(`${hostname()}-${exited}-fedcba`);
    const builds = join(dir.path, 'builds');
    const folders = [`${live}-1`, `${elsewhere}-1`, `${dead}-1`, `${live}-0`, 'dgone-2'];
    for (const name of folders) {
      await mkdir(join(builds, name, 'src'), { recursive: true });
      await writeFile(join(builds, name, 'src', 'index.html'), 'x');
      await writeFile(join(builds, `${name}.img`), '');
    }
    assert.equal(await sweepStaleBuilds(store, builds), 3);
    assert.deepEqual((await readdir(builds)).sort(), [`${live}-1`, `${live}-1.img`, `${elsewhere}-1`, `${elsewhere}-1.img`].sort());
    assert.equal(await sweepStaleBuilds(store, builds), 0, 'a second sweep finds nothing more');
  });
});
