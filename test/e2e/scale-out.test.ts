import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { makeRepo } from '../helpers/git.js';
import { fixturesDir, tempDir } from '../helpers/paths.js';
import { freshPostgres, pausePostgres, postgresSkip, resumePostgres } from '../helpers/postgres.js';
import { type RunningS3, startS3rver, useS3rverCredentials } from '../helpers/s3rver.js';
import { edgeGet, pushPayload, sendWebhook, startSlipwayProcess, type RunningSlipway, waitFor, waitForStatus } from '../helpers/slipway.js';

// Slipway on several machines, as docs/scale-out.md sets it up: one api, two workers and two
// edges, each a separate `slipway up --roles ...` with its own data dir, sharing only a real
// PostgreSQL, an S3 bucket (s3rver) and the platform key. Then what goes wrong in production:
// a worker killed mid-build, PostgreSQL restarted under load, an edge killed.

type Repo = Awaited<ReturnType<typeof makeRepo>>;
const PROJECTS = 5;
const BRANCHES = ['main', 'b1', 'b2', 'b3'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('scale-out: 1 api, 2 workers and 2 edges on PostgreSQL + S3', { skip: postgresSkip }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let s3: RunningS3;
  let database: { url: string; drop: () => Promise<void> };
  let api: RunningSlipway;
  const workers: RunningSlipway[] = [];
  const edges: RunningSlipway[] = [];
  const repos: Repo[] = [];
  const secrets: string[] = [];
  let common: string[];
  /** site-0's second production deployment (rolled back from, promoted again later) */
  let main2 = '';
  const env = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
  const query = async <T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      return (await client.query<T>(text, values)).rows;
    } finally {
      await client.end();
    }
  };
  /** the version an edge serves at /version.html of a project (the page inside the site's layout; '' when not 200) */
  const served = async (edge: RunningSlipway, project: string) => {
    const res = await edgeGet(edge.edgePort, `${project}.localhost`, '/version.html');
    return res.status === 200 ? (/<p>[^<]*<\/p>/.exec(res.text)?.[0] ?? res.text) : '';
  };
  const push = async (i: number, branch: string, version: string): Promise<string> => {
    const sha = await repos[i]!.commit({ 'pages/version.html': `<p>${version}</p>` }, version);
    await repos[i]!.push(branch);
    const hook = await sendWebhook(api.apiUrl, `site-${i}`, secrets[i], pushPayload({ ref: `refs/heads/${branch}`, after: sha }));
    assert.equal(hook.status, 202, JSON.stringify(hook.body));
    return hook.body.deploymentId as string;
  };

  before(async () => {
    dir = await tempDir('slipway-scale-out-');
    useS3rverCredentials();
    s3 = await startS3rver();
    database = await freshPostgres();
    // the key an operator makes once and copies to every machine
    const keyFile = join(dir.path, 'secret.key');
    await writeFile(keyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    common = ['--database-url', database.url, '--blob-url', `s3://${s3.bucket}/scale?endpoint=${s3.endpoint}&forcePathStyle=1`, '--secret-key-file', keyFile, '--job-lease-ms', '3000'];
    api = await startSlipwayProcess(join(dir.path, 'api'), ['--roles', 'api', ...common], env);
    for (const n of [1, 2]) workers.push(await startSlipwayProcess(join(dir.path, `worker-${n}`), ['--roles', 'worker', '--build-concurrency', '1', ...common], env));
    for (const n of [1, 2]) edges.push(await startSlipwayProcess(join(dir.path, `edge-${n}`), ['--roles', 'edge', '--edge-workers', '1', ...common], env));
    for (let i = 0; i < PROJECTS; i++) {
      const repo = await makeRepo(join(dir.path, `repo-${i}`));
      await repo.commitFixture(join(fixturesDir, 'build-static'), 'the site');
      repos.push(repo);
      const created = await api.api('POST', '/api/v1/projects', { name: `site-${i}`, repoUrl: repo.url });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      secrets.push(created.body.webhookSecret);
    }
  });

  after(async () => {
    for (const p of [...edges, ...workers, api]) await p?.kill();
    // (the killed worker could not unmount its build's workspace: the dir's cleanup does)
    await database?.drop();
    await s3?.cleanup();
    await dir?.cleanup();
  });

  test('20 pushes to 5 projects: every deployment is built exactly once, and both edges serve each', async () => {
    const ids: string[] = [];
    for (let i = 0; i < PROJECTS; i++) for (const branch of BRANCHES) ids.push(await push(i, branch, `site-${i} ${branch} 1`));
    const done = await Promise.all(ids.map((id) => waitForStatus(api, id, ['ready', 'failed', 'canceled'], 600_000)));
    assert.deepEqual(
      done.filter((d) => d.status !== 'ready').map((d) => [d.id, d.status, d.error]),
      [],
    );
    const jobs = await query<{ deployment_id: string; attempts: number; status: string }>('select deployment_id, attempts, status from jobs');
    assert.equal(jobs.length, 20, 'one job per deployment');
    assert.deepEqual(
      jobs.filter((j) => j.attempts !== 1 || j.status !== 'done'),
      [],
      'each job claimed once and done',
    );
    for (const edge of edges) for (let i = 0; i < PROJECTS; i++) assert.equal(await served(edge, `site-${i}`), `<p>site-${i} main 1</p>`);
  });

  test('a worker killed with SIGKILL mid-build: the other finishes its job', async () => {
    assert.equal((await api.api('PATCH', '/api/v1/projects/site-4', { buildCommand: 'sleep 6 && npm run build' })).status, 200);
    const id = await push(4, 'main', 'site-4 main slow');
    const holder = await waitFor(
      'a worker to be building the slow deployment',
      async () => {
        const [job] = await query<{ locked_by: string | null }>("select locked_by from jobs where deployment_id = $1 and status = 'running'", [id]);
        return job?.locked_by ?? undefined;
      },
      60_000,
    );
    const victim = workers.find((w) => holder.startsWith(`${hostname()}-${w.proc.pid}-`));
    assert.ok(victim !== undefined, `the job is held by ${holder}, one of the two workers`);
    await victim.kill();
    workers.splice(workers.indexOf(victim), 1);
    const d = await waitForStatus(api, id, ['ready', 'failed'], 180_000);
    assert.equal(d.status, 'ready', JSON.stringify(d.error));
    const [job] = await query<{ attempts: number }>('select attempts from jobs where deployment_id = $1', [id]);
    assert.equal(job?.attempts, 2, 'the second attempt was the other worker finishing it');
    await waitFor('both edges to serve it', async () => ((await Promise.all(edges.map((e) => served(e, 'site-4')))).every((t) => t === '<p>site-4 main slow</p>') ? true : undefined), 10_000);
  });

  test('a rollback is served by both edges within a second', async () => {
    const next = await push(0, 'main', 'site-0 main 2');
    main2 = next;
    assert.equal((await waitForStatus(api, next, ['ready', 'failed'], 120_000)).status, 'ready');
    await waitFor('both edges to serve main 2', async () => ((await Promise.all(edges.map((e) => served(e, 'site-0')))).every((t) => t === '<p>site-0 main 2</p>') ? true : undefined), 10_000);
    const started = Date.now();
    const rolled = await api.api('POST', '/api/v1/projects/site-0/rollback', {});
    assert.equal(rolled.status, 200, JSON.stringify(rolled.body));
    await waitFor(
      'both edges to serve the rollback',
      async () => ((await Promise.all(edges.map((e) => served(e, 'site-0')))).every((t) => t === '<p>site-0 main 1</p>') ? true : undefined),
      10_000,
      10,
    );
    const took = Date.now() - started;
    assert.ok(took < 1000, `the rollback took ${took} ms to reach both edges`);
  });

  test('PostgreSQL restarted under load: the edges keep serving and pick up the next move once it is back', async () => {
    let stop = false;
    const failures: string[] = [];
    let requests = 0;
    const load = Promise.all(
      edges.map(async (edge) => {
        while (!stop) {
          for (let i = 0; i < PROJECTS; i++) {
            const res = await edgeGet(edge.edgePort, `site-${i}.localhost`, '/version.html').catch((err: Error) => ({ status: 0, text: err.message }));
            requests += 1;
            if (res.status !== 200) failures.push(`${res.status} ${res.text.slice(0, 80)}`);
          }
        }
      }),
    );
    await sleep(500);
    await pausePostgres();
    await sleep(3000);
    await resumePostgres();
    await sleep(500);
    stop = true;
    await load;
    assert.ok(requests > 20, `only ${requests} requests during the outage`);
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${requests} requests failed while the database was down`);
    // the next move: the api reconnects, the edges hear of it again
    const promoted = await waitFor(
      'the api to answer again',
      async () => {
        const res = await api.api('POST', `/api/v1/deployments/${main2}/promote`, {});
        return res.status === 200 ? res : undefined;
      },
      30_000,
      250,
    );
    assert.equal(promoted.status, 200);
    await waitFor(
      'both edges to serve the move after the restart',
      async () => ((await Promise.all(edges.map((e) => served(e, 'site-0')))).every((t) => t !== '' && t !== '<p>site-0 main 1</p>') ? true : undefined),
      15_000,
      50,
    );
  });

  test('an edge killed leaves the other serving every site', async () => {
    const [gone, left] = edges as [RunningSlipway, RunningSlipway];
    await gone.kill();
    edges.splice(0, 1);
    for (let i = 0; i < PROJECTS; i++) assert.notEqual(await served(left, `site-${i}`), '', `site-${i} on the edge that is left`);
  });
});
