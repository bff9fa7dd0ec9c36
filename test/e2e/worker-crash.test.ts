import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { makeRepo } from '../helpers/git.js';
import { fixturesDir, runCleanups, tempDir } from '../helpers/paths.js';
import { edgeGet, startSlipwayProcess, waitFor, waitForStatus, type RunningSlipway } from '../helpers/slipway.js';
import Sqlite from 'better-sqlite3';

// A worker that dies mid-build (SIGKILL: no chance to clean up) loses its lease; another
// process claims the job again and the deployment becomes ready exactly once.
const cleanups: Array<() => Promise<unknown>> = [];
after(() => runCleanups(cleanups));

/** What is left under the data dir's build folders: entries, and mounts (a lost attempt's disk image). */
async function buildLeftovers(dataDir: string): Promise<string[]> {
  const root = join(dataDir, 'builds');
  const mounts = (await readFile('/proc/self/mounts', 'utf8')).split('\n').map((line) => line.split(' ')[1] ?? '');
  return [...(await readdir(root).catch(() => [] as string[])), ...mounts.filter((m) => m.startsWith(`${root}/`)).map((m) => `mounted ${m}`)];
}

/** A finished build releases its folder (unmounted, image removed) right after it is marked ready. */
async function waitForNoLeftovers(dataDir: string): Promise<void> {
  let left: string[] = [];
  await waitFor(
    'the build folders to be removed',
    async () => {
      left = await buildLeftovers(dataDir);
      return left.length === 0 ? true : undefined;
    },
    10_000,
  ).catch(() => assert.fail(`left under ${dataDir}/builds: ${left.join(', ')}`));
}

async function setup(buildMs: number) {
  const dir = await tempDir();
  cleanups.push(dir.cleanup);
  const repo = await makeRepo(join(dir.path, 'repo'));
  await repo.commitFixture(join(fixturesDir, 'static-site'), 'fixture');
  const sha = await repo.commit({ 'version.txt': `slow:${buildMs}\n` }, 'slow build');
  await repo.push();
  return { dir, repo, sha, dataDir: join(dir.path, 'data') };
}

async function start(dataDir: string, flags: string[]): Promise<RunningSlipway> {
  const s = await startSlipwayProcess(dataDir, ['--edge-workers', '0', ...flags]);
  cleanups.push(() => s.kill());
  return s;
}

test('a worker killed with SIGKILL mid-build: another claim finishes it, ready exactly once', async () => {
  const { dataDir, repo } = await setup(3000);
  const a = await start(dataDir, ['--job-lease-ms', '1500']);
  await a.api('POST', '/api/v1/projects', { name: 'crash', repoUrl: repo.url });
  const { body: queued } = await a.api('POST', '/api/v1/projects/crash/deployments', {});
  await waitFor(
    'the slow build to start',
    async () => {
      const logs = await a.api('GET', `/api/v1/deployments/${queued.id}/logs`);
      return logs.body.lines.some((l: { text: string }) => l.text.includes('slow build started')) ? true : undefined;
    },
    60_000,
  );
  await a.kill();

  const b = await start(dataDir, ['--job-lease-ms', '1500']);
  const d = await waitForStatus(b, queued.id, ['ready', 'failed'], 90_000);
  assert.equal(d.status, 'ready', JSON.stringify(d.error));
  assert.equal(d.attempts, 2);
  const logs = await b.api('GET', `/api/v1/deployments/${queued.id}/logs`);
  assert.ok(logs.body.lines.some((l: { text: string }) => /Retrying: attempt 2 of 3/.test(l.text)));
  const page = await edgeGet(b.edgePort, 'crash.localhost', '/');
  assert.match(page.text, /version slow:3000/);
  // the lost attempt's folder was swept by b at start, and b's own released when it finished
  await waitForNoLeftovers(dataDir);

  await b.stop();
  const db = new Sqlite(join(dataDir, 'slipway.db'), { readonly: true });
  try {
    const jobs = db.prepare('select status, attempts from jobs').all() as { status: string; attempts: number }[];
    assert.deepEqual(jobs, [{ status: 'done', attempts: 2 }], 'one job, done once, after two attempts');
    const ready = db.prepare("select count(*) as n from deployments where status = 'ready'").get() as { n: number };
    assert.equal(ready.n, 1);
  } finally {
    db.close();
  }
});

test('after three lost workers the job is dead-lettered and the deployment fails with that reason', async () => {
  const { dataDir, repo } = await setup(60_000);
  let s = await start(dataDir, ['--job-lease-ms', '1000']);
  await s.api('POST', '/api/v1/projects', { name: 'doomed', repoUrl: repo.url });
  const { body: queued } = await s.api('POST', '/api/v1/projects/doomed/deployments', {});
  for (let attempt = 1; attempt <= 3; attempt++) {
    await waitFor(
      `attempt ${attempt} to start building`,
      async () => {
        const r = await s.api('GET', `/api/v1/deployments/${queued.id}`);
        return r.body.attempts === attempt && r.body.status === 'building' ? true : undefined;
      },
      60_000,
    );
    await s.kill();
    s = await start(dataDir, ['--job-lease-ms', '1000']);
  }
  const d = await waitForStatus(s, queued.id, ['ready', 'failed'], 30_000);
  assert.equal(d.status, 'failed');
  assert.equal(d.error.code, 'WORKER_LOST');
  assert.match(d.error.message, /dead-lettered/);
  // three killed workers' folders, each swept by the next start
  await waitForNoLeftovers(dataDir);
});

test('SIGTERM gives running builds back to the queue when the grace period ends; a restart finishes them', async () => {
  const { dataDir, repo } = await setup(4000);
  const a = await start(dataDir, ['--shutdown-grace-ms', '300']);
  await a.api('POST', '/api/v1/projects', { name: 'graceful', repoUrl: repo.url });
  const { body: queued } = await a.api('POST', '/api/v1/projects/graceful/deployments', {});
  await waitFor(
    'the slow build to start',
    async () => {
      const logs = await a.api('GET', `/api/v1/deployments/${queued.id}/logs`);
      return logs.body.lines.some((l: { text: string }) => l.text.includes('slow build started')) ? true : undefined;
    },
    60_000,
  );
  const code = await a.stop();
  assert.equal(code, 0, a.output());
  const db = new Sqlite(join(dataDir, 'slipway.db'), { readonly: true });
  try {
    assert.deepEqual(db.prepare('select status, attempts from jobs').all(), [{ status: 'queued', attempts: 0 }], 'the lease was released, not burned');
  } finally {
    db.close();
  }
  const b = await start(dataDir, []);
  const d = await waitForStatus(b, queued.id, ['ready', 'failed'], 60_000);
  assert.equal(d.status, 'ready');
  assert.equal(d.attempts, 1);
  // the attempt given back on SIGTERM and the restart's attempt (the same folder name) both released theirs
  await waitForNoLeftovers(dataDir);
  assert.equal(await b.stop(), 0, b.output());
});
