import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { makeRepo } from '../helpers/git.js';
import { fixturesDir, tempDir } from '../helpers/paths.js';
import { edgeGet, startSlipwayProcess, waitFor, waitForStatus, type RunningSlipway } from '../helpers/slipway.js';

// A real React Router 7 app in framework mode from a push to serving through the edge: real
// npm ci from the registry, real `react-router build`, its server started the documented way
// (react-router-serve build/server/index.js, run from the project root with its node_modules)
// by the runtime, build/client served by the edge itself: public/ files, fingerprinted
// /assets and the prerendered /about.
let dir: Awaited<ReturnType<typeof tempDir>>;
let repo: Awaited<ReturnType<typeof makeRepo>>;
let slipway: RunningSlipway;
const host = 'rr.localhost';

before(async () => {
  dir = await tempDir();
  repo = await makeRepo(join(dir.path, 'repo'));
  await repo.commitFixture(join(fixturesDir, 'react-router-node'), 'react router app v1');
  await repo.push();
  slipway = await startSlipwayProcess(join(dir.path, 'data'), ['--edge-workers', '0']);
  const created = await slipway.api('POST', '/api/v1/projects', { name: 'rr', repoUrl: repo.url });
  assert.equal(created.status, 201, JSON.stringify(created.body));
});

after(async () => {
  await slipway?.stop();
  await dir?.cleanup();
});

async function deploy(t: TestContext, version: string): Promise<any> {
  if (version !== 'v1') {
    await repo.commit({ 'app/version.ts': `export const VERSION = '${version}';\n` }, `react router app ${version}`);
    await repo.push();
  }
  const { body } = await slipway.api('POST', '/api/v1/projects/rr/deployments', {});
  const d = await waitForStatus(slipway, body.id, ['ready', 'failed'], 600_000);
  const logs = await slipway.api('GET', `/api/v1/deployments/${body.id}/logs?limit=5000`);
  const lines: string[] = logs.body.lines.map((l: { text: string }) => l.text);
  if (d.status !== 'ready') assert.fail(`deployment ${version} ${d.status}: ${JSON.stringify(d.error)}\n${lines.slice(-40).join('\n')}`);
  t.diagnostic(`${version} timings: ${JSON.stringify(d.timings)}`);
  return { ...d, lines };
}

/** the edge's own ETag: the sha256 of the bytes it serves (the app's server would send its own, or none) */
const fromEdge = (res: { headers: Record<string, unknown> }) => /^"[0-9a-f]{64}"$/.test(String(res.headers.etag));
const hello = async () => JSON.parse((await edgeGet(slipway.edgePort, host, '/api/hello')).text) as { hello: string; version: string };

test('a React Router 7 app deploys from a push, runs under react-router-serve, and every kind of route answers through the edge', { timeout: 900_000 }, async (t) => {
  const d = await deploy(t, 'v1');
  assert.equal(d.build.framework.id, 'react-router');
  assert.equal(d.build.framework.variant, 'server');
  assert.ok(
    d.lines.some((l: string) => l.includes('node node_modules/@react-router/serve/bin.js build/server/index.js')),
    'the server is started as react-router-serve documents it, through its real script',
  );

  const home1 = await edgeGet(slipway.edgePort, host, '/');
  const home2 = await edgeGet(slipway.edgePort, host, '/');
  assert.equal(home1.status, 200);
  assert.match(home1.text, /Server page (<!-- -->)?v1/);
  assert.equal(home1.headers['x-slipway-deployment'], d.id);
  assert.ok(!fromEdge(home1), 'the page comes from the server, not from a file');
  const time = (html: string) => /<p id="time">([^<]+)<\/p>/.exec(html)?.[1];
  assert.ok(time(home1.text) !== undefined && time(home1.text) !== time(home2.text), 'rendered on every request');

  const about = await edgeGet(slipway.edgePort, host, '/about');
  assert.equal(about.status, 200);
  assert.match(about.text, /About this prerendered page/);
  assert.ok(fromEdge(about), 'the prerendered page is served by the edge from build/client/about/index.html');

  const api = await edgeGet(slipway.edgePort, host, '/api/hello');
  assert.equal(api.status, 200);
  assert.match(String(api.headers['content-type']), /^application\/json/);
  assert.deepEqual(JSON.parse(api.text), { hello: 'world', version: 'v1' });

  const icon = await edgeGet(slipway.edgePort, host, '/favicon.svg');
  assert.equal(icon.status, 200);
  assert.match(String(icon.headers['content-type']), /^image\/svg\+xml/);
  assert.ok(fromEdge(icon), 'public/ (copied to build/client) is served by the edge itself');
  assert.match(icon.text, /<svg/);

  const css = /\/assets\/root-[^"]+\.css/.exec(home1.text)?.[0];
  assert.ok(css !== undefined, 'the page links its stylesheet from build/client/assets');
  const sheet = await edgeGet(slipway.edgePort, host, css);
  assert.equal(sheet.status, 200);
  assert.match(String(sheet.headers['content-type']), /^text\/css/);
  assert.equal(sheet.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.ok(fromEdge(sheet), '/assets files are served by the edge itself');

  const missing = await edgeGet(slipway.edgePort, host, '/no-such-page');
  assert.equal(missing.status, 404);
  assert.match(missing.text, /404 Not here/, "the app's own error boundary renders the 404");
});

test('a second build of the unchanged dependencies restores node_modules from the cache and production switches', { timeout: 900_000 }, async (t) => {
  const d = await deploy(t, 'v2');
  assert.equal(d.build.cache.dependencies, 'hit');
  await waitFor('production to serve v2', async () => ((await hello()).version === 'v2' ? true : undefined), 30_000);
  const home = await edgeGet(slipway.edgePort, host, '/');
  assert.equal(home.status, 200);
  assert.match(home.text, /Server page (<!-- -->)?v2/);
  assert.equal(home.headers['x-slipway-deployment'], d.id);
});
