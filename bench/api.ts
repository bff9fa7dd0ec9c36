/**
 * API: p99 of the deployments list (first page) of a project with 10,000 deployments, over real
 * HTTP (keep-alive) against an api-only `slipway up`, next to GET /healthz measured the same way
 * in the same run; and the cost of a password login (the scrypt KDF), its rate over the cores
 * the KDF may use, and the login rate limit that follows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword, LOGIN_LIMITS, verifyPassword } from '../src/auth/index.js';
import { Store } from '../src/store/index.js';
import { startSlipwayProcess, TOKEN } from '../test/helpers/slipway.js';
import { median, ms, percentile } from './stats.js';

const DEPLOYMENTS = Number(process.env.SLIPWAY_BENCH_DEPLOYMENTS ?? 10_000);
const REQUESTS = Number(process.env.SLIPWAY_BENCH_REQUESTS ?? 500);
const LOGINS = Number(process.env.SLIPWAY_BENCH_LOGINS ?? 8);

export async function run() {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-api-'));
  const slipway = await startSlipwayProcess(join(dir, 'data'), ['--roles', 'api']);
  try {
    const made = await slipway.api('POST', '/api/v1/projects', { name: 'big', repoUrl: 'file:///nowhere' });
    if (made.status !== 201) throw new Error(`project: ${made.status} ${JSON.stringify(made.body)}`);
    await seed(join(dir, 'data', 'slipway.db'), made.body.id as string);

    const auth = { authorization: `Bearer ${TOKEN}` };
    const rows: Record<string, string | number>[] = [];
    const measure = async (name: string, path: string, headers: Record<string, string>) => {
      const times = await timeRequests(`${slipway.apiUrl}${path}`, headers);
      rows.push({ request: name, p50_ms: ms(median(times)), p99_ms: ms(percentile(times, 99)), max_ms: ms(Math.max(...times)) });
      return percentile(times, 99);
    };
    const reference = await measure('GET /healthz (reference)', '/healthz', {});
    const plain = await measure('deployments, first page (50), identity', '/api/v1/projects/big/deployments', { ...auth, 'accept-encoding': 'identity' });
    const br = await measure('deployments, first page (50), br', '/api/v1/projects/big/deployments', { ...auth, 'accept-encoding': 'br, gzip' });
    await measure('deployments, branch filter', '/api/v1/projects/big/deployments?branch=feature-7', { ...auth, 'accept-encoding': 'br, gzip' });
    const cursor = ((await (await fetch(`${slipway.apiUrl}/api/v1/projects/big/deployments?limit=200`, { headers: auth })).json()) as { nextCursor: string }).nextCursor;
    await measure('deployments, a later page (cursor)', `/api/v1/projects/big/deployments?cursor=${cursor}`, { ...auth, 'accept-encoding': 'br, gzip' });
    for (const r of rows) r.vs_healthz = `${(Number(r.p99_ms) / reference).toFixed(1)}x`;

    const login = await loginCosts(slipway.apiUrl);
    return {
      title: `API: deployments list with ${DEPLOYMENTS} deployments in the project (${REQUESTS} sequential keep-alive requests each), and login`,
      rows: [...rows, ...login.rows],
      notes: [`target: first page p99 < 20 ms: ${ms(Math.max(plain, br))} ms (${Math.max(plain, br) < 20 ? 'met' : 'NOT met'})`, ...login.notes],
    };
  } finally {
    await slipway.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Write the deployments straight into the store the process uses (WAL: a second writer queues on busy_timeout). */
async function seed(file: string, projectId: string): Promise<void> {
  const store = await Store.openSqlite(file);
  try {
    const now = Date.now();
    for (let start = 0; start < DEPLOYMENTS; start += 500) {
      const rows: Record<string, unknown>[] = [];
      for (let i = start; i < Math.min(DEPLOYMENTS, start + 500); i++) {
        rows.push({
          id: `dbench${String(i).padStart(6, '0')}`,
          project_id: projectId,
          seq: i + 1,
          status: i % 10 === 0 ? 'failed' : 'ready',
          target: i % 20 === 0 ? 'production' : 'preview',
          environment: i % 20 === 0 ? 'production' : 'preview',
          trigger: 'webhook',
          branch: `feature-${i % 50}`,
          commit_sha: i.toString(16).padStart(40, '0'),
          commit_message: `Commit number ${i}: a message of ordinary length for a change`,
          commit_author: 'Ada Lovelace',
          files_total: 120,
          files_uploaded: 3,
          bytes_uploaded: 123_456,
          timings: JSON.stringify({ installMs: 4000, buildMs: 9000, uploadMs: 300 }),
          build_info: JSON.stringify({ framework: { name: 'Astro' } }),
          attempts: 1,
          created_at: now - (DEPLOYMENTS - i) * 60_000,
          started_at: now - (DEPLOYMENTS - i) * 60_000,
          finished_at: now - (DEPLOYMENTS - i) * 60_000 + 14_000,
        });
      }
      await store.tx((db) =>
        db
          .insertInto('deployments')
          .values(rows as never)
          .execute(),
      );
    }
  } finally {
    await store.close();
  }
}

async function timeRequests(url: string, headers: Record<string, string>): Promise<number[]> {
  for (let i = 0; i < 30; i++) await (await fetch(url, { headers })).arrayBuffer();
  const times: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const t = performance.now();
    const res = await fetch(url, { headers });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
    times.push(performance.now() - t);
  }
  return times;
}

/** One KDF verify alone, two at once (the api runs at most two), and a login over HTTP. */
async function loginCosts(apiUrl: string) {
  const stored = await hashPassword('a password of ordinary length');
  const alone: number[] = [];
  for (let i = 0; i < LOGINS; i++) {
    const t = performance.now();
    await verifyPassword('a password of ordinary length', stored);
    alone.push(performance.now() - t);
  }
  const t = performance.now();
  await Promise.all(Array.from({ length: LOGINS }, () => verifyPassword('a password of ordinary length', stored)));
  const perSecond = LOGINS / ((performance.now() - t) / 1000);

  const password = 'a long enough password for the bench';
  await fetch(`${apiUrl}/api/v1/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'bench@example.com', password }),
  });
  const http: number[] = [];
  // fewer than the address limit allows in its window
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    const res = await fetch(`${apiUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'bench@example.com', password }) });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`login: ${res.status}`);
    http.push(performance.now() - start);
  }
  const { account, address } = LOGIN_LIMITS;
  return {
    rows: [
      { request: 'scrypt verify (N=2^15, r=8, p=3), one at a time', p50_ms: ms(median(alone)), max_ms: ms(Math.max(...alone)) },
      { request: 'POST /auth/login (password, over HTTP)', p50_ms: ms(median(http)), max_ms: ms(Math.max(...http)) },
    ],
    notes: [
      `KDF throughput: ${perSecond.toFixed(1)} verifies/s with ${LOGINS} at once (the api runs at most 2 at once; this machine has ${availableParallelism()} cores)`,
      `rate limit: ${account.max} failed attempts per account per ${account.windowMs / 60_000} min, ${address.max} attempts per address per ${address.windowMs / 60_000} min ` +
        `(${((address.max / address.windowMs) * 1000).toFixed(3)}/s per address): far below what the KDF allows, so the KDF, not the limit, bounds a distributed guesser at ~${perSecond.toFixed(0)} guesses/s`,
    ],
  };
}
