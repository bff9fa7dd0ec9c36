import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { json, runCli } from '../cli/run-cli.js';
import { makeRepo } from '../helpers/git.js';
import { repoRoot, tempDir } from '../helpers/paths.js';
import { edgeGet, startSlipwayProcess, TOKEN, waitFor, waitForStatus, type RunningSlipway } from '../helpers/slipway.js';

// A real `slipway up` with two edge worker processes: GET /metrics on the api's port needs the
// metrics token, and one scrape sees the requests both edge processes answered and the builds
// the worker finished. The access log keeps each project's requests apart, in the API and CLI.

interface Family {
  name: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string>; count?: string; sum?: string; buckets?: Record<string, string> }[];
}
const parse = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
let dir: Awaited<ReturnType<typeof tempDir>>;
let slipway: RunningSlipway;

before(async () => {
  dir = await tempDir('slipway-metrics-');
  const repo = await makeRepo(join(dir.path, 'repo'));
  await repo.commit({ 'index.html': '<h1>hello</h1>\n', 'about.html': '<p>about</p>\n' }, 'site');
  await repo.push();
  slipway = await startSlipwayProcess(join(dir.path, 'data'), ['--edge-workers', '2', '--metrics-token', METRICS_TOKEN]);
  for (const name of ['alpha', 'beta']) {
    assert.equal((await slipway.api('POST', '/api/v1/projects', { name, repoUrl: repo.url })).status, 201);
    const created = await slipway.api('POST', `/api/v1/projects/${name}/deployments`, { ref: 'main' });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    await waitForStatus(slipway, created.body.id, ['ready']);
  }
});

after(async () => {
  await slipway?.stop();
  await dir?.cleanup();
});

async function scrape(token: string | undefined): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`${slipway.apiUrl}/metrics`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

function sum(families: Family[], name: string, labels: Record<string, string> = {}): number {
  const family = families.find((f) => f.name === name);
  if (family === undefined) return 0;
  return family.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)).reduce((n, m) => n + Number(m.value ?? m.count ?? m.buckets?.['+Inf'] ?? 0), 0);
}

test('GET /metrics needs the metrics token', async () => {
  const none = await scrape(undefined);
  assert.equal(none.status, 401);
  assert.equal(JSON.parse(none.text).error.code, 'UNAUTHORIZED');
  assert.equal((await scrape('wrong-token-0123456789abcdef')).status, 401);
  // the admin token is not the metrics token
  assert.equal((await scrape(TOKEN)).status, 401);
  const ok = await scrape(METRICS_TOKEN);
  assert.equal(ok.status, 200);
  assert.match(ok.type ?? '', /^text\/plain; version=0\.0\.4/);
});

test('builds, queue and edge requests of both edge processes show in one scrape', async () => {
  // the worker counts a build once its job has returned, a moment after the deployment is ready
  const before = await waitFor(
    'both builds in /metrics',
    async () => {
      const families = parse((await scrape(METRICS_TOKEN)).text);
      return sum(families, 'slipway_builds_total', { outcome: 'ready' }) >= 2 ? families : undefined;
    },
    15_000,
    200,
  );
  assert.equal(sum(before, 'slipway_builds_total', { outcome: 'ready' }), 2);
  // (the parser keeps a histogram's buckets, not its labels)
  // (a flake seen here: what the scrape held is in the message)
  const histogram = JSON.stringify(['slipway_builds_total', 'slipway_build_duration_seconds'].map((n) => before.find((f) => f.name === n)));
  assert.equal(sum(before, 'slipway_build_duration_seconds'), 2, `the histogram counted both builds: ${histogram}`);
  assert.equal(sum(before, 'slipway_queue_depth'), 0);
  assert.ok(before.some((f) => f.name === 'slipway_queue_oldest_job_age_seconds'));
  const alphaBefore = sum(before, 'slipway_edge_requests_total', { project: 'alpha', status_class: '2xx' });

  // new connections each: the kernel spreads them over both edge processes
  for (let i = 0; i < 12; i++) assert.equal((await edgeGet(slipway.edgePort, 'alpha.localhost', '/', { connection: 'close' })).status, 200);
  for (let i = 0; i < 3; i++) assert.equal((await edgeGet(slipway.edgePort, 'beta.localhost', '/about', { connection: 'close' })).status, 200);
  assert.equal((await edgeGet(slipway.edgePort, 'alpha.localhost', '/nope', { connection: 'close' })).status, 404);

  const after = await waitFor(
    'the edge requests in /metrics',
    async () => {
      const families = parse((await scrape(METRICS_TOKEN)).text);
      return sum(families, 'slipway_edge_requests_total', { project: 'alpha', status_class: '2xx' }) - alphaBefore >= 12 ? families : undefined;
    },
    15_000,
    200,
  );
  assert.equal(sum(after, 'slipway_edge_requests_total', { project: 'alpha', status_class: '2xx' }) - alphaBefore, 12);
  assert.ok(sum(after, 'slipway_edge_requests_total', { project: 'alpha', status_class: '4xx' }) >= 1);
  assert.ok(sum(after, 'slipway_edge_requests_total', { project: 'beta', status_class: '2xx' }) >= 3);
  // the first request read the file from the blob store, the later ones from memory
  assert.ok(sum(after, 'slipway_edge_requests_total', { project: 'alpha', cache: 'hit' }) >= 10);
  assert.ok(sum(after, 'slipway_edge_response_bytes_total', { project: 'alpha' }) >= 12 * '<h1>hello</h1>\n'.length);
});

test("each project's access log holds its own requests only, in the API and the CLI", async () => {
  await edgeGet(slipway.edgePort, 'beta.localhost', '/about?x=1', { 'x-forwarded-for': '203.0.113.9' });
  const beta = await waitFor(
    'beta access log',
    async () => {
      const res = await slipway.api('GET', '/api/v1/projects/beta/logs');
      return res.body.lines.some((l: { path: string }) => l.path === '/about?x=1') ? res.body : undefined;
    },
    15_000,
    200,
  );
  assert.ok(beta.lines.length >= 4);
  for (const line of beta.lines) {
    assert.equal(line.host, 'beta.localhost');
    assert.equal(line.method, 'GET');
    assert.equal(line.clientIp, '127.0.0.1', 'the socket address, not a header the client sent');
    assert.match(line.deploymentId, /^d[a-z0-9]+$/);
    assert.ok(line.bytes > 0 && line.durationMs >= 0);
  }
  const alpha = (await slipway.api('GET', '/api/v1/projects/alpha/logs?tail=1000')).body;
  assert.ok(alpha.lines.length >= 13);
  assert.ok(alpha.lines.every((l: { host: string }) => l.host === 'alpha.localhost'));
  assert.ok(alpha.lines.some((l: { status: number; path: string }) => l.status === 404 && l.path === '/nope'));

  // the cursor: nothing after the last entry, until a new request
  const empty = (await slipway.api('GET', `/api/v1/projects/alpha/logs?since=${alpha.next}`)).body;
  assert.deepEqual(empty.lines, []);
  assert.equal(empty.next, alpha.next);
  assert.equal((await slipway.api('GET', '/api/v1/projects/alpha/logs?since=abc')).status, 400);

  const cli = await runCli(['logs', '--access', '--project', 'beta', '--json'], { env: { SLIPWAY_URL: slipway.apiUrl, SLIPWAY_TOKEN: TOKEN, XDG_CONFIG_HOME: join(dir.path, 'config') } });
  assert.equal(cli.code, 0, cli.stderr);
  const out = json(cli);
  assert.equal(out.type, 'access');
  assert.ok(out.lines.some((l: { path: string }) => l.path === '/about?x=1'));
  assert.ok(out.lines.every((l: { host: string }) => l.host === 'beta.localhost'));
});

test('slipway logs --access --follow prints new requests as they come', async () => {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'slipway.js'), 'logs', '--access', '--project', 'alpha', '--tail', '1', '--follow'], {
    env: { PATH: process.env.PATH ?? '', HOME: dir.path, SLIPWAY_URL: slipway.apiUrl, SLIPWAY_TOKEN: TOKEN, XDG_CONFIG_HOME: join(dir.path, 'config') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    // the tail first: one line, then nothing new until a request
    await waitFor('the tail', async () => (out.split('\n').filter(Boolean).length >= 1 ? true : undefined), 15_000, 100);
    assert.equal((await edgeGet(slipway.edgePort, 'alpha.localhost', '/followed')).status, 404);
    await waitFor('the followed request', async () => (out.includes('/followed') ? true : undefined), 15_000, 100);
    const line = out.split('\n').find((l) => l.includes('/followed'))!;
    // piped: tab-separated, the status second
    assert.equal(line.split('\t')[1], '404');
    assert.equal(line.split('\t')[3], 'alpha.localhost');
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
});
