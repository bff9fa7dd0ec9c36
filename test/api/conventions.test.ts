import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { makeRepo } from '../helpers/git.js';
import { tempDir } from '../helpers/paths.js';
import { ADMIN, startApi, type ApiFixture } from '../auth/fixture.js';

// The API's conventions, in process: cursor pages that stay stable while rows are added,
// Idempotency-Key on creation and deploys, and compressed JSON answers.

let api: ApiFixture;
let dir: Awaited<ReturnType<typeof tempDir>>;
let owner: { id: string; token: string };
let projectId: string;
let repoUrl: string;
let seq = 0;

async function addDeployments(count: number, fields: (i: number) => Record<string, unknown> = () => ({})): Promise<void> {
  const rows = [];
  for (let i = 0; i < count; i += 1) {
    seq += 1;
    rows.push({
      id: `dconv${String(seq).padStart(7, '0')}`,
      project_id: projectId,
      seq,
      status: 'ready',
      target: 'preview',
      environment: 'preview',
      trigger: 'api',
      branch: 'main',
      commit_sha: 'c'.repeat(40),
      attempts: 0,
      created_at: Date.now(),
      ...fields(i),
    });
  }
  await api.store.db
    .insertInto('deployments')
    .values(rows as never)
    .execute();
}

before(async () => {
  api = await startApi();
  dir = await tempDir();
  const repo = await makeRepo(join(dir.path, 'repo'));
  await repo.commit({ 'index.html': '<h1>hi</h1>' }, 'first');
  await repo.push();
  repoUrl = repo.url;
  assert.equal((await api.call('POST', '/api/v1/teams', { auth: ADMIN, body: { slug: 'acme' } })).status, 201);
  owner = await api.person('owner@example.com', 'acme', 'owner');
  const made = await api.call('POST', '/api/v1/projects', { auth: owner.token, body: { name: 'site', repoUrl } });
  assert.equal(made.status, 201);
  projectId = made.body.id;
});
after(async () => {
  await api?.close();
  await dir?.cleanup();
});

test('deployments page by cursor, newest first, without repeats while new ones arrive', async () => {
  await addDeployments(120);
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res = await api.call('GET', `/api/v1/projects/site/deployments?limit=50${cursor === null ? '' : `&cursor=${cursor}`}`, { auth: owner.token });
    assert.equal(res.status, 200);
    seen.push(...res.body.deployments.map((d: any) => d.id));
    cursor = res.body.nextCursor;
    pages += 1;
    // a push lands between pages: it is on the first page of a new listing, not in this one
    if (pages === 1) await addDeployments(3);
  } while (cursor !== null);
  assert.equal(pages, 3);
  assert.equal(seen.length, 120);
  assert.equal(new Set(seen).size, 120, 'no deployment twice');
  assert.deepEqual(seen, [...seen].sort().reverse(), 'newest first');
  const first = await api.call('GET', '/api/v1/projects/site/deployments', { auth: owner.token });
  assert.equal(first.body.deployments.length, 50, 'default page size');
  assert.equal(first.body.deployments[0].id, `dconv${String(seq).padStart(7, '0')}`);
  const max = await api.call('GET', '/api/v1/projects/site/deployments?limit=100000', { auth: owner.token });
  assert.equal(max.body.deployments.length, 123, 'all of them: under the 200 a page may hold');
  const bad = await api.call('GET', '/api/v1/projects/site/deployments?cursor=not-a-cursor', { auth: owner.token });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'VALIDATION');
  assert.match(bad.body.error.hint, /nextCursor/);
});

test('the deployment list filters by branch, status and environment in the query, pages included', async () => {
  await addDeployments(30, (i) => ({ branch: i % 3 === 0 ? 'feature/x' : 'main', status: i % 2 === 0 ? 'failed' : 'ready', environment: i % 5 === 0 ? 'staging' : 'preview' }));
  const all = async (query: string) => {
    const ids: any[] = [];
    let cursor: string | null = null;
    do {
      const res: any = await api.call('GET', `/api/v1/projects/site/deployments?limit=4&${query}${cursor === null ? '' : `&cursor=${cursor}`}`, { auth: owner.token });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      ids.push(...res.body.deployments);
      cursor = res.body.nextCursor;
    } while (cursor !== null);
    return ids;
  };
  const feature = await all(`branch=${encodeURIComponent('feature/x')}`);
  assert.equal(feature.length, 10);
  assert.ok(feature.every((d) => d.branch === 'feature/x'));
  const failedFeature = await all('branch=feature%2Fx&status=failed');
  assert.equal(failedFeature.length, 5);
  assert.ok(failedFeature.every((d) => d.status === 'failed' && d.branch === 'feature/x'));
  const staging = await all('environment=staging');
  assert.equal(staging.length, 6);
});

test('every list answers nextCursor and pages by its key', async () => {
  for (const name of ['b-site', 'c-site', 'd-site']) assert.equal((await api.call('POST', '/api/v1/projects', { auth: owner.token, body: { name, repoUrl } })).status, 201);
  for (const key of ['A', 'B', 'C']) assert.equal((await api.call('PUT', `/api/v1/projects/site/env/${key}`, { auth: owner.token, body: { value: 'v' } })).status, 201);
  for (const name of ['t1', 't2', 't3']) assert.equal((await api.call('POST', '/api/v1/tokens', { auth: owner.token, body: { name } })).status, 201);
  for (const slug of ['team-b', 'team-c']) assert.equal((await api.call('POST', '/api/v1/teams', { auth: owner.token, body: { slug } })).status, 201);
  await api.person('zed@example.com', 'acme', 'viewer');
  const lists: [string, string, string[]][] = [
    ['/api/v1/projects', 'projects', ['b-site', 'c-site', 'd-site', 'site']],
    ['/api/v1/projects/site/env', 'env', ['A', 'B', 'C']],
    ['/api/v1/teams', 'teams', ['acme', 'team-b', 'team-c']],
    ['/api/v1/teams/acme/members', 'members', ['owner@example.com', 'zed@example.com']],
  ];
  const walk = async (url: string, items: string, key: (x: any) => string) => {
    const out: string[] = [];
    let cursor: string | null = null;
    do {
      const res: any = await api.call('GET', `${url}?limit=1${cursor === null ? '' : `&cursor=${cursor}`}`, { auth: owner.token });
      assert.equal(res.status, 200, `${url}: ${JSON.stringify(res.body)}`);
      assert.ok(res.body[items].length <= 1);
      out.push(...res.body[items].map(key));
      cursor = res.body.nextCursor;
    } while (cursor !== null);
    return out;
  };
  for (const [url, items, expected] of lists) assert.deepEqual(await walk(url, items, (x) => x.name ?? x.key ?? x.slug ?? x.email), expected, url);
  // tokens: newest first; those made in one millisecond still come once each
  const tokens = await walk('/api/v1/tokens', 'tokens', (t) => t.name);
  assert.deepEqual([...tokens].sort(), ['t1', 't2', 't3', 'tests'].sort());
  assert.deepEqual(tokens.slice(0, 3), ['t3', 't2', 't1']);
  const users = await api.call('GET', '/api/v1/users?limit=1', { auth: ADMIN });
  assert.equal(users.body.users.length, 1);
  assert.equal(typeof users.body.nextCursor, 'string');
});

test('Idempotency-Key: the same key and body answer the first answer, without a second project', async () => {
  const key = { 'idempotency-key': 'create-blog-1' };
  const body = { name: 'blog', repoUrl, team: 'acme' };
  const first = await api.call('POST', '/api/v1/projects', { auth: owner.token, body, headers: key });
  assert.equal(first.status, 201);
  const again = await api.call('POST', '/api/v1/projects', { auth: owner.token, body, headers: key });
  assert.equal(again.status, 201);
  assert.deepEqual(again.body, first.body, 'the same answer, webhook secret included');
  assert.equal(again.headers['idempotent-replayed'], 'true');
  const other = await api.call('POST', '/api/v1/projects', { auth: owner.token, body: { name: 'blog2', repoUrl, team: 'acme' }, headers: key });
  assert.equal(other.status, 422);
  assert.equal(other.body.error.code, 'IDEMPOTENCY_KEY_REUSED');
  assert.equal((await api.call('GET', '/api/v1/projects/blog2', { auth: owner.token })).status, 404);
  // without the key a retry is a new request: the name is taken
  assert.equal((await api.call('POST', '/api/v1/projects', { auth: owner.token, body })).status, 409);
  // a key is the caller's own: another caller's same key is another request
  const admin = await api.call('POST', '/api/v1/projects', { auth: ADMIN, body: { name: 'admins', repoUrl, team: 'acme' }, headers: key });
  assert.equal(admin.status, 201);
  // an error answer is kept too: the retry gets the same 409, not a fresh attempt
  const taken = await api.call('POST', '/api/v1/projects', { auth: owner.token, body, headers: { 'idempotency-key': 'taken' } });
  assert.equal(taken.status, 409);
  assert.deepEqual((await api.call('POST', '/api/v1/projects', { auth: owner.token, body, headers: { 'idempotency-key': 'taken' } })).body, taken.body);
  // after 24 h the key is forgotten: the same request runs again (and meets the taken name)
  await api.store.db
    .updateTable('idempotency_keys')
    .set({ created_at: Date.now() - 25 * 3600_000 })
    .where('key', '=', 'create-blog-1')
    .execute();
  const late = await api.call('POST', '/api/v1/projects', { auth: owner.token, body, headers: key });
  assert.equal(late.status, 409);
  assert.equal(late.headers['idempotent-replayed'], undefined);
});

test('Idempotency-Key: concurrent duplicates do not both run', async () => {
  const key = { 'idempotency-key': 'race' };
  const answers = await Promise.all(Array.from({ length: 6 }, () => api.call('POST', '/api/v1/projects', { auth: owner.token, body: { name: 'racer', repoUrl, team: 'acme' }, headers: key })));
  const statuses = answers.map((a) => a.status);
  assert.ok(
    statuses.every((s) => s === 201 || s === 409),
    JSON.stringify(answers.map((a) => a.body)),
  );
  assert.ok(statuses.includes(201));
  for (const a of answers.filter((x) => x.status === 409)) assert.equal(a.body.error.code, 'IDEMPOTENCY_KEY_IN_USE');
  const ids = new Set(answers.filter((a) => a.status === 201).map((a) => a.body.id));
  assert.equal(ids.size, 1, 'one project, answered to every 201');
});

test('Idempotency-Key: a duplicate sent while the first deploy runs is refused with 409, not run', async () => {
  const before = (await api.store.db.selectFrom('jobs').select('id').execute()).length;
  const key = { 'idempotency-key': 'deploy-race' };
  // the first one resolves the ref with git while the others arrive
  const answers = await Promise.all(Array.from({ length: 4 }, () => api.call('POST', '/api/v1/projects/site/deployments', { auth: owner.token, body: { ref: 'main' }, headers: key })));
  const statuses = answers.map((a) => a.status);
  assert.deepEqual(
    statuses.filter((s) => s === 202),
    [202],
    JSON.stringify(answers.map((a) => a.body)),
  );
  assert.ok(answers.filter((a) => a.status !== 202).every((a) => a.status === 409 && a.body.error.code === 'IDEMPOTENCY_KEY_IN_USE'));
  assert.equal((await api.store.db.selectFrom('jobs').select('id').execute()).length, before + 1, 'one job');
  // once it is done, a retry gets its answer
  const later = await api.call('POST', '/api/v1/projects/site/deployments', { auth: owner.token, body: { ref: 'main' }, headers: key });
  assert.equal(later.status, 202);
  assert.equal(later.body.id, answers.find((a) => a.status === 202)!.body.id);
});

test('Idempotency-Key on a deploy: one deployment and one job for any number of retries', async () => {
  const before = await api.store.db.selectFrom('jobs').select('id').execute();
  const key = { 'idempotency-key': 'deploy-main-1' };
  const first = await api.call('POST', '/api/v1/projects/site/deployments', { auth: owner.token, body: { ref: 'main' }, headers: key });
  assert.equal(first.status, 202, JSON.stringify(first.body));
  const again = await api.call('POST', '/api/v1/projects/site/deployments', { auth: owner.token, body: { ref: 'main' }, headers: key });
  assert.equal(again.status, 202);
  assert.equal(again.body.id, first.body.id);
  const jobs = await api.store.db.selectFrom('jobs').select('id').execute();
  assert.equal(jobs.length, before.length + 1);
  const reused = await api.call('POST', '/api/v1/projects/site/deployments', { auth: owner.token, body: { ref: 'main', target: 'production' }, headers: key });
  assert.equal(reused.status, 422);
  assert.equal(reused.body.error.code, 'IDEMPOTENCY_KEY_REUSED');
  const long = await api.call('POST', '/api/v1/projects/site/deployments', { auth: owner.token, body: { ref: 'main' }, headers: { 'idempotency-key': 'k'.repeat(300) } });
  assert.equal(long.status, 400);
  assert.match(long.body.error.message, /idempotency-key/);
});

test('Idempotency-Key on a prebuilt deployment: a retry makes no second deployment', async () => {
  const bytes = Buffer.from('<h1>prebuilt</h1>');
  const hash = createHash('sha256').update(bytes).digest('hex');
  const put = await api.app.inject({
    method: 'PUT',
    url: `/api/v1/projects/site/blobs/${hash}`,
    headers: { authorization: `Bearer ${owner.token}`, 'content-type': 'application/octet-stream' },
    payload: bytes,
  });
  assert.equal(put.statusCode, 201, put.body);
  const body = { files: { 'index.html': { hash, size: bytes.length } }, message: 'upload' };
  const key = { 'idempotency-key': 'prebuilt-1' };
  const first = await api.call('POST', '/api/v1/projects/site/prebuilt', { auth: owner.token, body, headers: key });
  assert.equal(first.status, 201, JSON.stringify(first.body));
  const again = await api.call('POST', '/api/v1/projects/site/prebuilt', { auth: owner.token, body, headers: key });
  assert.equal(again.body.id, first.body.id);
  const rows = await api.store.db.selectFrom('deployments').select('id').where('commit_message', '=', 'upload').execute();
  assert.equal(rows.length, 1);
});

test('a big JSON answer comes compressed as Accept-Encoding asks, and decodes to the same JSON', async () => {
  const url = '/api/v1/projects/site/deployments?limit=100';
  const headers = { authorization: `Bearer ${owner.token}` };
  const plain = await api.app.inject({ method: 'GET', url, headers });
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.match(String(plain.headers.vary), /accept-encoding/i);
  const gzip = await api.app.inject({ method: 'GET', url, headers: { ...headers, 'accept-encoding': 'gzip, deflate' } });
  assert.equal(gzip.headers['content-encoding'], 'gzip');
  assert.match(String(gzip.headers.vary), /accept-encoding/i);
  assert.ok(gzip.rawPayload.length < plain.rawPayload.length / 4, `${gzip.rawPayload.length} of ${plain.rawPayload.length} bytes`);
  assert.deepEqual(JSON.parse(gunzipSync(gzip.rawPayload).toString('utf8')), JSON.parse(plain.body));
  const br = await api.app.inject({ method: 'GET', url, headers: { ...headers, 'accept-encoding': 'gzip;q=0.5, br' } });
  assert.equal(br.headers['content-encoding'], 'br');
  assert.deepEqual(JSON.parse(brotliDecompressSync(br.rawPayload).toString('utf8')), JSON.parse(plain.body));
  const refused = await api.app.inject({ method: 'GET', url, headers: { ...headers, 'accept-encoding': 'br;q=0, gzip;q=0' } });
  assert.equal(refused.headers['content-encoding'], undefined);
  // small answers go as they are
  const small = await api.app.inject({ method: 'GET', url: '/healthz', headers: { 'accept-encoding': 'gzip' } });
  assert.equal(small.headers['content-encoding'], undefined);
});
