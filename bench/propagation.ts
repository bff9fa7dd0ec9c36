/**
 * Ready means live, measured. Two edge processes (`slipway up --roles edge --edge-workers 1`
 * twice, each its own port) over one store, SQLite (10 ms poll) and PostgreSQL (LISTEN/NOTIFY,
 * 1 s safety net):
 * - alias move propagation: a move committed -> both edges serve it (median, p99);
 * - ready -> served by every edge, for a new static and a new SSR deployment (a tiny Node server
 *   bundle, so no framework build is measured), idle and with 16 keep-alive loops hitting both
 *   edges: the worker's go-live step as run-job runs it (warm on every edge, move, wait for live_at).
 * The SQLite poll is the reference the PostgreSQL figures are read against.
 * SLIPWAY_BENCH_MOVES (default 50) and SLIPWAY_BENCH_DEPLOYS (default 10) shorten it.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageOutput, packageServer } from '../src/artifact/index.js';
import { LocalBlobStore } from '../src/blobs/index.js';
import { createDeployment, moveAlias, PRODUCTION } from '../src/deployments/index.js';
import { createProject } from '../src/projects/index.js';
import { Queue } from '../src/queue/index.js';
import { loadSecretKey, SecretBox } from '../src/secrets.js';
import { Store, type Project } from '../src/store/index.js';
import { recordLive, warmEdges } from '../src/worker/go-live.js';
import { freshPostgres, postgresSkip } from '../test/helpers/postgres.js';
import { startSlipwayProcess, type RunningSlipway } from '../test/helpers/slipway.js';
import { median, percentile } from './stats.js';

const MOVES = Number(process.env.SLIPWAY_BENCH_MOVES ?? 50);
const DEPLOYS = Number(process.env.SLIPWAY_BENCH_DEPLOYS ?? 10);
const HOST = 'live.localhost';
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function fetchText(port: number, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: HOST }, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** ms from `since` until every edge answers `path` with `text` (each edge probed in a tight loop). */
async function servedByAll(ports: number[], path: string, text: string, since: number, timeoutMs = 20_000): Promise<number> {
  const times = await Promise.all(
    ports.map(async (port) => {
      for (;;) {
        const reply = await fetchText(port, path).catch(() => ({ status: 0, text: '' }));
        if (reply.status === 200 && reply.text.includes(text)) return performance.now() - since;
        if (performance.now() - since > timeoutMs) throw new Error(`edge on ${port} did not serve ${JSON.stringify(text)} within ${timeoutMs} ms`);
        await new Promise((r) => setImmediate(r));
      }
    }),
  );
  return Math.max(...times);
}

/** 16 keep-alive loops over both edges until stopped: requests, and those that failed (5xx or no answer). */
function startLoad(ports: number[]): { stop(): Promise<{ requests: number; failed: number }> } {
  let running = true;
  let requests = 0;
  let failed = 0;
  const loops = Array.from({ length: 16 }, async (_, i) => {
    while (running) {
      const reply = await fetchText(ports[i % ports.length]!, i % 2 === 0 ? '/' : '/api').catch(() => ({ status: 0, text: '' }));
      requests++;
      // a static deployment has no /api: its 404 is the site's answer, not a failure
      if (reply.status === 0 || reply.status >= 500) failed++;
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { requests, failed };
    },
  };
}

interface Setup {
  store: Store;
  blobs: LocalBlobStore;
  project: Project;
  box: SecretBox;
  ports: number[];
  dir: string;
  n: number;
}

/** A new deployment, ready: index.html says `static <tag>`; with `ssr`, /api answers `ssr <tag>` from its server. */
async function newDeployment(s: Setup, tag: string, ssr: boolean): Promise<{ id: string; manifestHash: string }> {
  const out = join(s.dir, `out-${++s.n}`);
  await mkdir(join(out, 'static'), { recursive: true });
  await writeFile(join(out, 'static', 'index.html'), `static ${tag}\n`);
  let server: Awaited<ReturnType<typeof packageServer>> | undefined;
  if (ssr) {
    await mkdir(join(out, 'server'));
    await writeFile(join(out, 'server', 'version.txt'), tag);
    await writeFile(
      join(out, 'server', 'server.js'),
      "const v = require('node:fs').readFileSync(__dirname + '/version.txt', 'utf8');\nrequire('node:http').createServer((q, r) => r.end('ssr ' + v)).listen(Number(process.env.PORT), process.env.HOSTNAME);\n",
    );
    server = await packageServer({ bundleDir: join(out, 'server'), entry: 'server.js', blobs: s.blobs, log: () => undefined });
  }
  const pkg = await packageOutput({ outputDir: join(out, 'static'), blobs: s.blobs, log: () => undefined, server: server?.bundle });
  const d = await s.store.tx((db) =>
    createDeployment(db, new Queue(s.store, { leaseMs: 30_000 }), s.box, { project: s.project, sha: tag.padEnd(40, '0'), branch: 'main', trigger: 'api', target: 'preview' }),
  );
  // the build's job is not run here: it is the go-live step that is measured
  await s.store.db.deleteFrom('jobs').where('deployment_id', '=', d.id).execute();
  await s.store.db.updateTable('deployments').set({ status: 'ready', manifest_hash: pkg.manifestHash, finished_at: Date.now() }).where('id', '=', d.id).execute();
  return { id: d.id, manifestHash: pkg.manifestHash };
}

/**
 * The worker's go-live step (see src/worker/run-job.ts): warm (SSR), then the transaction that
 * makes it ready and moves the alias, then live_at. warmMs: before the API says ready;
 * servedMs and liveMs: from the API saying ready (the move committed) to both edges serving it,
 * and to live_at being recorded.
 */
async function goLive(s: Setup, d: { id: string; manifestHash: string }, ssr: boolean, tag: string): Promise<{ warmMs: number; servedMs: number; liveMs: number }> {
  const warming = performance.now();
  if (ssr) await warmEdges(s.store, d, 10_000);
  const warmMs = performance.now() - warming;
  await s.store.tx(async (db) => {
    await db.deleteFrom('warm_requests').where('deployment_id', '=', d.id).execute();
    await moveAlias(db, s.project.id, PRODUCTION, d.id);
  });
  const ready = performance.now();
  const [servedMs, liveMs] = await Promise.all([
    servedByAll(s.ports, ssr ? '/api' : '/', `${ssr ? 'ssr' : 'static'} ${tag}`, ready),
    recordLive(s.store, d.id, 10_000).then((at) => (at === undefined ? Number.NaN : performance.now() - ready)),
  ]);
  return { warmMs, servedMs, liveMs };
}

const fmt = (values: number[]) => `${Math.round(median(values))} / ${Math.round(percentile(values, 99))}`;

async function measure(backend: 'sqlite' | 'postgres'): Promise<Record<string, string | number>[]> {
  const dir = await mkdtemp(join(tmpdir(), `slipway-bench-live-${backend}-`));
  const database = backend === 'postgres' ? await freshPostgres() : undefined;
  const edges: RunningSlipway[] = [];
  let store: Store | undefined;
  try {
    const dataDir = join(dir, 'data');
    const flags = ['--roles', 'edge', '--edge-workers', '1', ...(database === undefined ? [] : ['--database-url', database.url])];
    // one after another: the first creates the data dir's key and migrates
    for (let i = 0; i < 2; i++) edges.push(await startSlipwayProcess(dataDir, flags));
    store = database === undefined ? await Store.openSqlite(join(dataDir, 'slipway.db')) : await Store.openPostgres(database.url, { poolSize: 4 });
    const box = new SecretBox(await loadSecretKey(join(dataDir, 'secret.key')));
    const { project } = await store.tx((db) => createProject(db, box, { name: 'live', repoUrl: 'file:///nowhere' }));
    const s: Setup = { store, blobs: new LocalBlobStore(join(dataDir, 'blobs')), project, box, ports: edges.map((e) => e.edgePort), dir, n: 0 };

    // alias moves between two deployments both edges have loaded
    const a = await newDeployment(s, 'a', false);
    const b = await newDeployment(s, 'b', false);
    const moves: number[] = [];
    for (let i = 0; i < MOVES; i++) {
      const to = i % 2 === 0 ? a : b;
      const started = performance.now();
      await store.tx((db) => moveAlias(db, project.id, PRODUCTION, to.id));
      moves.push(await servedByAll(s.ports, '/', `static ${to === a ? 'a' : 'b'}`, started));
    }
    const rows: Record<string, string | number>[] = [{ backend, measured: `alias move -> both edges (${MOVES} moves)`, 'median / p99 ms': fmt(moves) }];

    for (const loaded of [false, true]) {
      // production on an SSR deployment first, so the load's /api requests have a server to reach
      await goLive(s, await newDeployment(s, `base-${loaded}`, true), true, `base-${loaded}`);
      const load = loaded ? startLoad(s.ports) : undefined;
      for (const ssr of [false, true]) {
        const served: number[] = [];
        const live: number[] = [];
        const warm: number[] = [];
        for (let i = 0; i < DEPLOYS; i++) {
          const tag = `${ssr ? 'ssr' : 'static'}-${loaded ? 'load' : 'idle'}-${i}`;
          const result = await goLive(s, await newDeployment(s, tag, ssr), ssr, tag);
          served.push(result.servedMs);
          live.push(result.liveMs);
          warm.push(result.warmMs);
        }
        rows.push({
          backend,
          measured: `ready -> served by both edges, ${ssr ? 'SSR' : 'static'}, ${loaded ? 'under load' : 'idle'} (${DEPLOYS})`,
          'median / p99 ms': fmt(served),
          'ready -> live_at ms': fmt(live),
          'warm before ready ms': ssr ? fmt(warm) : '-',
        });
      }
      const result = await load?.stop();
      if (result !== undefined) rows.push({ backend, measured: 'load during the deploys', 'median / p99 ms': `${result.requests} requests, ${result.failed} failed (5xx or no answer)` });
    }
    return rows;
  } finally {
    await store?.close();
    for (const e of edges) await e.stop();
    await database?.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function run() {
  const load = loadavg()[0]!.toFixed(1);
  const rows = await measure('sqlite');
  const notes = [
    `machine: ${availableParallelism()} cores, load average ${load} at the start (shared): read PostgreSQL against the SQLite rows of the same run`,
    'targets: move p99 < 100 ms over LISTEN/NOTIFY; ready -> served < 100 ms static, < 1 s SSR',
    'ready = the transaction that marks it ready and moves production; SSR servers are started on both edges before it (warm column)',
  ];
  if (postgresSkip === false) rows.push(...(await measure('postgres')));
  else notes.push(`PostgreSQL skipped: ${postgresSkip}`);
  agent.destroy();
  return { title: 'Ready means live: two edge processes, SQLite (10 ms poll) and PostgreSQL (LISTEN/NOTIFY)', rows, notes };
}
