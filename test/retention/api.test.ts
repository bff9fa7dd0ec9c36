import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sha256 } from '../../src/blobs/index.js';
import { releaseLease, startSweep, takeLease } from '../../src/retention/fence.js';
import { ADMIN, type ApiFixture, startApi } from '../auth/fixture.js';

let api: ApiFixture;
let owner: { token: string };
let viewer: { token: string };
before(async () => {
  api = await startApi();
  owner = await api.person('owner@example.com', 'default', 'owner');
  viewer = await api.person('viewer@example.com', 'default', 'viewer');
  const made = await api.call('POST', '/api/v1/projects', { auth: owner.token, body: { name: 'site', repoUrl: 'file:///nowhere' } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
});
after(async () => {
  await api?.close();
});

test("a project's retention: the documented defaults, an owner changes them, bad values get a hint, null goes back", async () => {
  const shown = await api.call('GET', '/api/v1/projects/site/retention', { auth: viewer.token });
  assert.equal(shown.status, 200);
  assert.deepEqual(shown.body, { project: 'site', keepProduction: 10, keepDays: 90, defaults: { keepProduction: 10, keepDays: 90 } });

  const refused = await api.call('PATCH', '/api/v1/projects/site/retention', { auth: viewer.token, body: { keepDays: 30 } });
  assert.equal(refused.status, 403);

  const changed = await api.call('PATCH', '/api/v1/projects/site/retention', { auth: owner.token, body: { keepDays: 30 } });
  assert.equal(changed.status, 200);
  assert.equal(changed.body.keepDays, 30);
  assert.equal(changed.body.keepProduction, 10, 'the other setting stays');
  assert.equal((await api.call('GET', '/api/v1/projects/site/retention', { auth: viewer.token })).body.keepDays, 30);

  for (const body of [{ keepDays: -1 }, { keepDays: 1.5 }, { keepProduction: 10_001 }, { keepDays: '30' }, { keep: 3 }]) {
    const bad = await api.call('PATCH', '/api/v1/projects/site/retention', { auth: owner.token, body });
    assert.equal(bad.status, 400, JSON.stringify(body));
    assert.ok(['VALIDATION', 'BAD_REQUEST'].includes(bad.body.error.code), JSON.stringify(bad.body));
    assert.ok(bad.body.error.hint, `a hint for ${JSON.stringify(body)}`);
  }
  const back = await api.call('PATCH', '/api/v1/projects/site/retention', { auth: owner.token, body: { keepDays: null } });
  assert.equal(back.body.keepDays, 90);
});

test("garbage collection on demand is the admin's: dry runs and runs are reported, one run at a time", async () => {
  for (const token of [owner.token, viewer.token]) {
    const res = await api.call('POST', '/api/v1/gc', { auth: token, body: { dryRun: true } });
    assert.equal(res.status, 403);
  }
  const badBody = await api.call('POST', '/api/v1/gc', { auth: ADMIN, body: { dryRun: 'yes' } });
  assert.equal(badBody.status, 400);

  const dry = await api.call('POST', '/api/v1/gc', { auth: ADMIN, body: { dryRun: true } });
  assert.equal(dry.status, 200, JSON.stringify(dry.body));
  assert.equal(dry.body.dryRun, true);
  assert.equal(dry.body.ran, true);

  const run = await api.call('POST', '/api/v1/gc', { auth: ADMIN });
  assert.equal(run.status, 200);
  assert.equal(run.body.dryRun, false);
  const last = await api.call('GET', '/api/v1/gc', { auth: ADMIN });
  assert.equal(last.status, 200);
  assert.equal(last.body.running, false);
  assert.equal(last.body.lastReport.startedAt, run.body.startedAt);

  // another worker's collection holds the lease
  assert.equal(await takeLease(api.store, 'another-worker'), true);
  try {
    const busy = await api.call('POST', '/api/v1/gc', { auth: ADMIN });
    assert.equal(busy.status, 409);
    assert.equal(busy.body.error.code, 'GC_RUNNING');
    assert.match(busy.body.error.hint, /GET \/api\/v1\/gc/);
    assert.equal((await api.call('GET', '/api/v1/gc', { auth: ADMIN })).body.running, true);
    // a dry run takes no lease: it still answers
    assert.equal((await api.call('POST', '/api/v1/gc', { auth: ADMIN, body: { dryRun: true } })).status, 200);
  } finally {
    await releaseLease(api.store, 'another-worker', undefined);
  }
});

test('a prebuilt upload finishing during a sweep waits for it, and answers BLOBS_MISSING for a blob the sweep took instead of going live without it', async () => {
  const page = Buffer.from('<h1>uploaded before the sweep</h1>');
  const hash = sha256(page);
  const upload = async () => {
    const res = await api.app.inject({
      method: 'PUT',
      url: `/api/v1/projects/site/blobs/${hash}`,
      headers: { authorization: `Bearer ${owner.token}`, 'content-type': 'application/octet-stream' },
      payload: page,
    });
    assert.ok([200, 201].includes(res.statusCode), res.body);
  };
  const create = () => api.call('POST', '/api/v1/projects/site/prebuilt', { auth: owner.token, body: { files: { 'index.html': { hash, size: page.length } } } });
  await upload();

  // a collector is sweeping: the deployment is not recorded until it ends, and it deletes the blob meanwhile
  assert.equal(await takeLease(api.store, 'sweeper'), true);
  await startSweep(api.store, 'sweeper');
  let answered = false;
  const creating = create().finally(() => {
    answered = true;
  });
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.equal(answered, false, 'no deployment is recorded while the sweep runs');
  assert.equal(await api.blobs.delete(hash), true);
  await releaseLease(api.store, 'sweeper', undefined);
  const refused = await creating;
  assert.equal(refused.status, 422, JSON.stringify(refused.body));
  assert.equal(refused.body.error.code, 'BLOBS_MISSING');
  assert.equal((await api.store.db.selectFrom('deployments').select('id').execute()).length, 0, 'no deployment points at a missing blob');

  // the client uploads what is missing and asks again
  await upload();
  const created = await create();
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const row = await api.store.db.selectFrom('deployments').select('manifest_hash').where('id', '=', created.body.id).executeTakeFirstOrThrow();
  assert.ok(row.manifest_hash !== null && (await api.blobs.has(row.manifest_hash)));
  assert.equal(await api.blobs.has(hash), true);
});
