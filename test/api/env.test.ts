import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { makeRepo } from '../helpers/git.js';
import { repoRoot, tempDir } from '../helpers/paths.js';
import { pushPayload, sendWebhook, startSlipwayProcess, TOKEN, type RunningSlipway } from '../helpers/slipway.js';

// Environment variables and project settings over real HTTP against an api-only process (no
// worker: deployments stay queued, so what a test reads of them is what creation wrote).
let dir: Awaited<ReturnType<typeof tempDir>>;
let dataDir: string;
let slipway: RunningSlipway;
let secret: string;
let sha: string;
const VALUE = 'postgres://app:s3cr3t-Pa55w0rd@db.internal:5432/app';

before(async () => {
  dir = await tempDir();
  dataDir = join(dir.path, 'data');
  const repo = await makeRepo(join(dir.path, 'repo'));
  sha = await repo.commit({ 'index.html': '<h1>hi</h1>' }, 'first');
  await repo.push();
  slipway = await startSlipwayProcess(dataDir, ['--roles', 'api']);
  const created = await slipway.api('POST', '/api/v1/projects', { name: 'envy', repoUrl: repo.url });
  assert.equal(created.status, 201);
  secret = created.body.webhookSecret;
});

after(async () => {
  await slipway?.stop();
  await dir?.cleanup();
});

const env = (path = '') => `/api/v1/projects/envy/env${path}`;

test('set, list and delete variables; values are never returned', async () => {
  const created = await slipway.api('PUT', env('/DATABASE_URL'), { value: VALUE });
  assert.equal(created.status, 201);
  assert.deepEqual(created.body.targets, ['preview', 'production']);
  assert.notEqual(created.body.value, VALUE);
  const replaced = await slipway.api('PUT', env('/DATABASE_URL'), { value: VALUE, targets: ['production'] });
  assert.equal(replaced.status, 200);
  assert.deepEqual(replaced.body.targets, ['production']);
  assert.equal((await slipway.api('PUT', env('/API_URL'), { value: 'https://api.example.com', targets: 'preview' })).status, 201);

  const list = await slipway.api('GET', env());
  assert.equal(list.status, 200);
  assert.deepEqual(
    list.body.env.map((v: any) => [v.key, v.targets]),
    [
      ['API_URL', ['preview']],
      ['DATABASE_URL', ['preview']],
      ['DATABASE_URL', ['production']],
    ],
    'preview keeps the value it had: only production was replaced',
  );
  assert.ok(list.body.env.every((v: any) => v.value === '********' && typeof v.updatedAt === 'string'));
  assert.equal(JSON.stringify(list.body).includes('s3cr3t'), false);

  const removed = await slipway.api('DELETE', env('/API_URL'));
  assert.equal(removed.status, 204);
  const again = await slipway.api('DELETE', env('/API_URL'));
  assert.equal(again.status, 404);
  assert.equal((await slipway.api('GET', env())).body.env.length, 2);
});

test('bad names, values and targets get a 400 with a hint; an unknown project a 404', async () => {
  const cases: [string, unknown, RegExp][] = [
    ['/1ABC', { value: 'x' }, /not a valid variable name/],
    ['/A-B', { value: 'x' }, /not a valid variable name/],
    ['/PORT', { value: '80' }, /reserved/],
    ['/HOSTNAME', { value: 'x' }, /reserved/],
    ['/SLIPWAY_ADMIN_TOKEN', { value: 'x' }, /reserved/],
    ['/slipway_x', { value: 'x' }, /reserved/],
    ['/OK', {}, /value must be a string/],
    ['/OK', { value: 42 }, /value must be a string/],
    ['/OK', { value: 'x'.repeat(64 * 1024 + 1) }, /64 KiB/],
    ['/OK', { value: 'a\u0000b' }, /NUL/],
    ['/OK', { value: 'x', targets: [] }, /targets/],
    ['/OK', { value: 'x', targets: ['staging'] }, /targets/],
  ];
  for (const [path, body, message] of cases) {
    const res = await slipway.api('PUT', env(path), body);
    assert.equal(res.status, 400, `${path} ${JSON.stringify(body).slice(0, 80)}`);
    assert.equal(res.body.error.code, 'VALIDATION');
    assert.match(res.body.error.message, message);
    assert.ok(res.body.error.hint.length > 0);
  }
  const notJson = await slipway.api('PUT', env('/OK'), '{"value":');
  assert.equal(notJson.status, 400);
  const exactly64k = await slipway.api('PUT', env('/BIG'), { value: 'x'.repeat(64 * 1024) });
  assert.equal(exactly64k.status, 201);
  await slipway.api('DELETE', env('/BIG'));

  for (const [method, path] of [
    ['GET', '/api/v1/projects/nope/env'],
    ['PUT', '/api/v1/projects/nope/env/A'],
    ['DELETE', '/api/v1/projects/nope/env/A'],
  ] as const) {
    const res = await slipway.api(method, path, method === 'PUT' ? { value: 'x' } : undefined);
    assert.equal(res.status, 404, `${method} ${path}`);
    assert.equal(res.body.error.code, 'PROJECT_NOT_FOUND');
  }
  const anonymous = await fetch(`${slipway.apiUrl}${env()}`);
  assert.equal(anonymous.status, 401, 'the admin token is the only tenant boundary there is');
});

test('a project holds at most 200 variables', async () => {
  await slipway.api('POST', '/api/v1/projects', { name: 'many', repoUrl: 'file:///nowhere' });
  for (let i = 0; i < 200; i += 1) assert.equal((await slipway.api('PUT', `/api/v1/projects/many/env/V${i}`, { value: `value-${i}` })).status, 201);
  const over = await slipway.api('PUT', '/api/v1/projects/many/env/ONE_MORE', { value: 'x' });
  assert.equal(over.status, 400);
  assert.match(over.body.error.message, /200 variables/);
  assert.equal((await slipway.api('PUT', '/api/v1/projects/many/env/V0', { value: 'changed' })).status, 200, 'replacing one still works');
});

test('values are encrypted at rest: the SQLite files never hold them in clear', async () => {
  // a checkpoint would only move pages from the WAL into the main file: read every file there is
  const files = (await readdir(dataDir)).filter((f) => f.startsWith('slipway.db'));
  assert.ok(files.length > 0);
  for (const f of files) {
    const bytes = await readFile(join(dataDir, f));
    assert.equal(bytes.includes(Buffer.from('s3cr3t-Pa55w0rd')), false, f);
    assert.equal(bytes.includes(Buffer.from('value-199')), false, f);
  }
});

test('a deployment keeps the variables of its target and the server limits as they were when it was created', async () => {
  assert.equal((await slipway.api('PATCH', '/api/v1/projects/envy', { serverMemoryMb: 128, serverRequestTimeoutSeconds: 7, serverPids: 300 })).status, 200);
  const push = await sendWebhook(slipway.apiUrl, 'envy', secret, pushPayload({ ref: 'refs/heads/main', after: sha }));
  assert.equal(push.status, 202);
  const first = push.body.deploymentId as string;
  await slipway.api('PUT', env('/DATABASE_URL'), { value: 'changed-later', targets: ['production'] });
  const deployment = await slipway.api('GET', `/api/v1/deployments/${first}`);
  assert.equal(JSON.stringify(deployment.body).includes('s3cr3t'), false, 'the deployment shows no value either');
  assert.deepEqual(deployment.body.server, { memoryMb: 128, requestTimeoutSeconds: 7, pids: 300, cpuShares: null });
  await slipway.api('PATCH', '/api/v1/projects/envy', { serverMemoryMb: null, serverRequestTimeoutSeconds: null, serverPids: null });
  assert.deepEqual((await slipway.api('GET', `/api/v1/deployments/${first}`)).body.server, { memoryMb: 128, requestTimeoutSeconds: 7, pids: 300, cpuShares: null }, 'its own copy');

  // read the snapshot the way the worker and the edge do
  const row = await sqlite(join(dataDir, 'slipway.db'), `select env from deployments where id = '${first}'`);
  assert.match(row, /^v1:/, 'stored encrypted');
  const { SecretBox, loadSecretKey } = await import(join(repoRoot, 'dist', 'src', 'secrets.js'));
  const box = new SecretBox(await loadSecretKey(join(dataDir, 'secret.key')));
  assert.deepEqual(JSON.parse(box.decrypt(row)), { DATABASE_URL: VALUE });
});

test('PATCH changes settings with the same checks as create', async () => {
  const created = await slipway.api('POST', '/api/v1/projects', { name: 'limits', repoUrl: 'file:///nowhere', serverMemoryMb: 256, serverRequestTimeoutSeconds: 5 });
  assert.equal(created.status, 201);
  assert.equal(created.body.serverMemoryMb, 256);
  assert.equal(created.body.serverRequestTimeoutSeconds, 5);
  const badCreate = await slipway.api('POST', '/api/v1/projects', { name: 'limits2', repoUrl: 'file:///nowhere', serverMemoryMb: 1 });
  assert.equal(badCreate.status, 400);
  assert.match(badCreate.body.error.message, /serverMemoryMb/);

  const patched = await slipway.api('PATCH', '/api/v1/projects/limits', { serverMemoryMb: 512, buildCommand: 'npm run build:site', outputDirectory: './out/', productionBranch: 'trunk' });
  assert.equal(patched.status, 200);
  assert.equal(patched.body.serverMemoryMb, 512);
  assert.equal(patched.body.serverRequestTimeoutSeconds, 5, 'untouched');
  assert.equal(patched.body.buildCommand, 'npm run build:site');
  assert.equal(patched.body.outputDirectory, 'out');
  assert.equal(patched.body.productionBranch, 'trunk');
  const cleared = await slipway.api('PATCH', '/api/v1/projects/limits', { buildCommand: null, serverRequestTimeoutSeconds: null });
  assert.equal(cleared.body.buildCommand, null);
  assert.equal(cleared.body.serverRequestTimeoutSeconds, 60, 'back to the platform default');
  // "." serves the root on purpose; "" unsets
  assert.equal((await slipway.api('PATCH', '/api/v1/projects/limits', { outputDirectory: './' })).body.outputDirectory, '.');
  assert.equal((await slipway.api('PATCH', '/api/v1/projects/limits', { outputDirectory: '' })).body.outputDirectory, null);

  const bad: [unknown, RegExp][] = [
    [{ serverMemoryMb: 'lots' }, /serverMemoryMb/],
    [{ serverMemoryMb: 100_000 }, /serverMemoryMb/],
    [{ serverRequestTimeoutSeconds: 0 }, /serverRequestTimeoutSeconds/],
    [{ buildTimeoutSeconds: 1.5 }, /buildTimeoutSeconds/],
    [{ rootDirectory: '../up' }, /rootDirectory/],
    [{ productionBranch: 'a..b' }, /productionBranch/],
    [{ name: 'renamed' }, /cannot be changed/],
    [{ colour: 'blue' }, /Unknown setting/],
    [{}, /changes nothing/],
  ];
  for (const [body, message] of bad) {
    const res = await slipway.api('PATCH', '/api/v1/projects/limits', body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.match(res.body.error.message, message);
    assert.ok(typeof res.body.error.hint === 'string');
  }
  assert.equal((await slipway.api('PATCH', '/api/v1/projects/nope', { serverMemoryMb: 512 })).status, 404);
  assert.equal((await slipway.api('PATCH', '/api/v1/projects/limits', [1])).status, 400);

  const row = await sqlite(join(dataDir, 'slipway.db'), `select server_memory_mb || ',' || ifnull(server_request_timeout_seconds, 'null') from projects where name = 'limits'`);
  assert.equal(row, '512,null');
});

test('the CLI sets (argument or stdin), lists and removes variables', async () => {
  const cli = (args: string[], input?: string) => runCli(args, input);
  const set = await cli(['env', 'set', 'FROM_ARG', 'argument-value', '--project', 'envy', '--target', 'preview']);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /Set FROM_ARG for preview/);
  const piped = await cli(['env', 'set', 'FROM_STDIN', '--project', 'envy'], 'piped-value\n');
  assert.equal(piped.code, 0, piped.stderr);
  const ls = await cli(['env', 'ls', '--project', 'envy']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, /^FROM_ARG\tpreview\t/m);
  assert.match(ls.stdout, /^FROM_STDIN\tpreview,production\t/m);
  assert.equal(ls.stdout.includes('piped-value') || ls.stdout.includes('argument-value'), false);
  const bad = await cli(['env', 'set', 'PORT', '1', '--project', 'envy']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /reserved/);
  assert.match(bad.stderr, /Hint:/);
  const rm = await cli(['env', 'rm', 'FROM_ARG', '--project', 'envy']);
  assert.equal(rm.code, 0, rm.stderr);
  assert.doesNotMatch((await cli(['env', 'ls', '--project', 'envy'])).stdout, /FROM_ARG/);
  const unknown = await cli(['env', 'frob', '--project', 'envy']);
  assert.equal(unknown.code, 2, 'a usage error');
  assert.match(unknown.stderr, /Unknown env command/);

  // the piped value arrived without its trailing newline
  const row = await sqlite(join(dataDir, 'slipway.db'), `select value from env_vars where key = 'FROM_STDIN'`);
  const { SecretBox, loadSecretKey } = await import(join(repoRoot, 'dist', 'src', 'secrets.js'));
  assert.equal(new SecretBox(await loadSecretKey(join(dataDir, 'secret.key'))).decrypt(row), 'piped-value');
});

function runCli(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [join(repoRoot, 'bin', 'slipway.js'), ...args], { env: { ...process.env, SLIPWAY_URL: slipway.apiUrl, SLIPWAY_TOKEN: TOKEN } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
    child.stdin!.end(input ?? '');
  });
}

/** One value from the live database file, read by a separate connection (as another process would). */
async function sqlite(file: string, query: string): Promise<string> {
  const script = `const D = require('better-sqlite3'); const db = new D(${JSON.stringify(file)}, { readonly: true }); const r = db.prepare(${JSON.stringify(query)}).raw().get(); process.stdout.write(String(r?.[0] ?? ''));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { cwd: repoRoot });
  return stdout;
}

test("build and server sandbox limits are settable per project, within the operator's maxima", async () => {
  const created = await slipway.api('POST', '/api/v1/projects', {
    name: 'boxed',
    repoUrl: 'file:///nowhere',
    buildMemoryMb: 1024,
    buildPids: 256,
    buildCpuShares: 128,
    serverPids: 64,
    serverCpuShares: 2048,
  });
  assert.equal(created.status, 201);
  assert.deepEqual([created.body.buildMemoryMb, created.body.buildPids, created.body.buildCpuShares, created.body.serverPids, created.body.serverCpuShares], [1024, 256, 128, 64, 2048]);
  // above the platform's defaults (--build-memory-mb 4096, --build-pids 4096, --server-pids 1024): what builds get is the maximum
  const raised = await slipway.api('PATCH', '/api/v1/projects/boxed', { buildMemoryMb: 65_536, buildPids: 100_000, serverPids: 100_000, buildDiskMb: 1_000_000 });
  assert.equal(raised.status, 200);
  assert.deepEqual([raised.body.buildMemoryMb, raised.body.buildPids, raised.body.serverPids, raised.body.buildDiskMb], [4096, 4096, 1024, 20_480]);
  const unset = await slipway.api('PATCH', '/api/v1/projects/boxed', { buildMemoryMb: null, buildPids: null, buildCpuShares: null, serverPids: null, serverCpuShares: null });
  assert.deepEqual([unset.body.buildMemoryMb, unset.body.buildPids, unset.body.buildCpuShares, unset.body.serverPids, unset.body.serverCpuShares], [4096, 4096, 512, 1024, 1024]);
  for (const [field, value] of [
    ['buildPids', 1],
    ['buildCpuShares', 0],
    ['serverPids', 'many'],
    ['buildMemoryMb', 1.5],
  ] as const) {
    const bad = await slipway.api('PATCH', '/api/v1/projects/boxed', { [field]: value });
    assert.equal(bad.status, 400, field);
    assert.equal(bad.body.error.code, 'VALIDATION');
    assert.match(bad.body.error.message, new RegExp(field));
  }
});
