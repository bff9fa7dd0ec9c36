import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { ADMIN, type ApiFixture, startApi } from '../auth/fixture.js';
import { json, runCli } from '../cli/run-cli.js';

// `slipway retention` and `slipway gc` against the api on a real socket
let api: ApiFixture;
let env: Record<string, string>;
let owner: { token: string };
before(async () => {
  api = await startApi();
  owner = await api.person('owner@example.com', 'default', 'owner');
  assert.equal((await api.call('POST', '/api/v1/projects', { auth: owner.token, body: { name: 'blog', repoUrl: 'file:///nowhere' } })).status, 201);
  await api.app.listen({ port: 0, host: '127.0.0.1' });
  env = { SLIPWAY_URL: `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}`, SLIPWAY_TOKEN: owner.token };
});
after(async () => {
  await api?.close();
});

test('slipway retention shows the defaults, changes a setting, and refuses a bad number as a usage error', async () => {
  const shown = await runCli(['retention', '-p', 'blog'], { env });
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /newest 10 ready production deployments \(default\)/);
  assert.match(shown.stdout, /newer than 90 days \(default\)/);

  const changed = await runCli(['retention', '-p', 'blog', '--keep-days', '30', '--json'], { env });
  assert.equal(changed.code, 0, changed.stderr);
  assert.equal(json(changed).keepDays, 30);
  assert.equal((await api.call('GET', '/api/v1/projects/blog/retention', { auth: owner.token })).body.keepDays, 30);

  const bad = await runCli(['retention', '-p', 'blog', '--keep-days', 'soon'], { env });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--keep-days must be a whole number/);
});

test('slipway gc is for the admin; --dry-run reports what would go without removing it', async () => {
  const refused = await runCli(['gc', '--dry-run'], { env });
  assert.equal(refused.code, 4, refused.stderr);

  const admin = { ...env, SLIPWAY_TOKEN: ADMIN };
  const dry = await runCli(['gc', '--dry-run'], { env: admin });
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /Would remove 0 deployments and 0 blobs: 0 B to free\./);
  const run = await runCli(['gc', '--json'], { env: admin });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(json(run).dryRun, false);
  assert.equal(json(run).ran, true);
});
