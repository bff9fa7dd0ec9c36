import assert from 'node:assert/strict';
import { after, before, test, type TestContext } from 'node:test';
import { servedByEdge, startFixtureApp, type FixtureApp } from '../helpers/fixture-app.js';
import { edgeGet, waitFor, type RunningSlipway } from '../helpers/slipway.js';

// A real React Router 7 app in framework mode from a push to serving through the edge: real
// npm ci from the registry, real `react-router build`, its server started the documented way
// (react-router-serve build/server/index.js, run from the project root with its node_modules)
// by the runtime, build/client served by the edge itself: public/ files, fingerprinted
// /assets and the prerendered /about.
let app: FixtureApp;
let slipway: RunningSlipway;
const host = 'rr.localhost';

before(async () => {
  app = await startFixtureApp({ fixture: 'react-router-node', name: 'rr', versionFile: 'app/version.ts' });
  slipway = app.slipway;
});

after(() => app?.close());

const deploy = (t: TestContext, version: string) => app.deploy(version, (line) => t.diagnostic(line));

const fromEdge = servedByEdge;
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
