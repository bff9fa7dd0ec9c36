/**
 * Build throughput: 10 static projects pushed at once, built by 1, 2 and 4 worker processes
 * (`--roles worker`, one build at a time each) that share PostgreSQL with one api + edge
 * process. Reports the time until all 10 are ready and builds per minute; the reference is the
 * run with one worker, in the same bench. On this two-core machine more than two workers
 * cannot add CPU: the figure shows what the queue and the sandbox cost when they compete.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeRepo } from '../test/helpers/git.js';

type TestRepo = Awaited<ReturnType<typeof makeRepo>>;
import { fixturesDir } from '../test/helpers/paths.js';
import { freshPostgres, postgresSkip, stopPostgres } from '../test/helpers/postgres.js';
import { startSlipwayProcess, waitForStatus, type RunningSlipway } from '../test/helpers/slipway.js';

const PROJECTS = Number(process.env.SLIPWAY_BENCH_PROJECTS ?? 10);
const WORKER_COUNTS = [1, 2, 4];

async function measure(dir: string, repos: TestRepo[], workers: number): Promise<number> {
  const database = await freshPostgres();
  const data = join(dir, `data-${workers}`);
  const processes: RunningSlipway[] = [];
  try {
    const front = await startSlipwayProcess(data, ['--roles', 'api,edge', '--database-url', database.url]);
    processes.push(front);
    for (let i = 0; i < workers; i++) processes.push(await startSlipwayProcess(data, ['--roles', 'worker', '--build-concurrency', '1', '--database-url', database.url]));
    for (const [i, repo] of repos.entries()) {
      const created = await front.api('POST', '/api/v1/projects', { name: `site-${i}`, repoUrl: repo.url });
      if (created.status !== 201) throw new Error(`creating site-${i} answered ${created.status}`);
    }
    const started = performance.now();
    const ids = await Promise.all(repos.map(async (_, i) => (await front.api('POST', `/api/v1/projects/site-${i}/deployments`, {})).body.id as string));
    const done = await Promise.all(ids.map((id) => waitForStatus(front, id, ['ready', 'failed'], 900_000)));
    const failed = done.filter((d) => d.status !== 'ready');
    if (failed.length > 0) throw new Error(`${failed.length} builds failed: ${JSON.stringify(failed[0].error)}`);
    return (performance.now() - started) / 1000;
  } finally {
    for (const p of processes.reverse()) await p.stop();
    await database.drop();
  }
}

export async function run() {
  if (postgresSkip !== false) return { title: 'Build throughput', rows: [], notes: [`skipped: ${postgresSkip}`] };
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-throughput-'));
  try {
    const repos: TestRepo[] = [];
    for (let i = 0; i < PROJECTS; i++) {
      const repo = await makeRepo(join(dir, `repo-${i}`));
      await repo.commitFixture(join(fixturesDir, 'build-static'), `site ${i}`);
      await repo.push();
      repos.push(repo);
    }
    // a warm-up build: the first sandbox and node download are not what the bench is about
    await measure(dir, repos.slice(0, 1), 1);
    const rows: Record<string, string | number>[] = [];
    let reference: number | undefined;
    for (const workers of WORKER_COUNTS) {
      const seconds = await measure(dir, repos, workers);
      reference ??= seconds;
      rows.push({ workers, projects: PROJECTS, 'all ready (s)': seconds.toFixed(1), 'builds/min': ((PROJECTS / seconds) * 60).toFixed(1), 'speed-up vs 1 worker': (reference / seconds).toFixed(2) });
    }
    return {
      title: `Build throughput (${PROJECTS} static projects pushed at once, PostgreSQL)`,
      rows,
      notes: ['each worker process builds one at a time (--build-concurrency 1); api and edge in one more process'],
    };
  } finally {
    stopPostgres();
    await rm(dir, { recursive: true, force: true });
  }
}
