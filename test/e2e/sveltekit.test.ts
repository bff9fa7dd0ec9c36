import assert from 'node:assert/strict';
import { after, before, test, type TestContext } from 'node:test';
import { servedByEdge, startFixtureApp, type FixtureApp } from '../helpers/fixture-app.js';
import { edgeGet, waitFor, type RunningSlipway } from '../helpers/slipway.js';

// A real SvelteKit 2 app with adapter-node from a push to serving through the edge: real npm ci
// from the registry, real `vite build`, its server (build/index.js, run from the project root
// with its node_modules) run by the runtime; build/client (static/ files, /_app/immutable) and
// build/prerendered (/about) served by the edge itself.
let app: FixtureApp;
let slipway: RunningSlipway;
const host = 'kit.localhost';

before(async () => {
  app = await startFixtureApp({ fixture: 'sveltekit-node', name: 'kit', versionFile: 'src/lib/version.js' });
  slipway = app.slipway;
});

after(() => app?.close());

const deploy = (t: TestContext, version: string) => app.deploy(version, (line) => t.diagnostic(line));

const fromEdge = servedByEdge;
const hello = async () => JSON.parse((await edgeGet(slipway.edgePort, host, '/api/hello')).text) as { hello: string; version: string };
const heading = (html: string) => /<h1[^>]*>([^<]*(?:<!---->)?[^<]*)<\/h1>/.exec(html)?.[1]?.replaceAll('<!---->', '');

test('a SvelteKit app with adapter-node deploys from a push and every kind of route answers through the edge', { timeout: 900_000 }, async (t) => {
  const d = await deploy(t, 'v1');
  assert.equal(d.build.framework.id, 'sveltekit');
  assert.equal(d.build.framework.variant, 'node');

  const home1 = await edgeGet(slipway.edgePort, host, '/');
  const home2 = await edgeGet(slipway.edgePort, host, '/');
  assert.equal(home1.status, 200);
  assert.equal(heading(home1.text), 'Server page v1');
  assert.equal(home1.headers['x-slipway-deployment'], d.id);
  assert.ok(!fromEdge(home1), 'the page comes from the server, not from a file');
  const time = (html: string) => /<p id="time"[^>]*>([^<]+)<\/p>/.exec(html)?.[1];
  assert.ok(time(home1.text) !== undefined && time(home1.text) !== time(home2.text), 'rendered on every request');

  const about = await edgeGet(slipway.edgePort, host, '/about');
  assert.equal(about.status, 200);
  assert.match(about.text, /About this prerendered page/);
  assert.ok(fromEdge(about), 'the prerendered page is served by the edge from build/prerendered/about.html');

  const api = await edgeGet(slipway.edgePort, host, '/api/hello');
  assert.equal(api.status, 200);
  assert.match(String(api.headers['content-type']), /^application\/json/);
  assert.deepEqual(JSON.parse(api.text), { hello: 'world', version: 'v1' });

  const icon = await edgeGet(slipway.edgePort, host, '/favicon.svg');
  assert.equal(icon.status, 200);
  assert.match(String(icon.headers['content-type']), /^image\/svg\+xml/);
  assert.ok(fromEdge(icon), 'static/ (copied to build/client) is served by the edge itself');
  assert.match(icon.text, /<svg/);

  const script = /\/_app\/immutable\/[^"]+\.js/.exec(home1.text)?.[0];
  assert.ok(script !== undefined, 'the page loads its client code from /_app/immutable');
  const js = await edgeGet(slipway.edgePort, host, script);
  assert.equal(js.status, 200);
  assert.match(String(js.headers['content-type']), /javascript/);
  assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.ok(fromEdge(js), '/_app/immutable files are served by the edge itself');

  const missing = await edgeGet(slipway.edgePort, host, '/no-such-page');
  assert.equal(missing.status, 404);
  assert.match(missing.text, /Not Found/, "SvelteKit's own error page");
});

test('a second build of the unchanged dependencies restores node_modules from the cache and production switches', { timeout: 900_000 }, async (t) => {
  const d = await deploy(t, 'v2');
  assert.equal(d.build.cache.dependencies, 'hit');
  await waitFor('production to serve v2', async () => ((await hello()).version === 'v2' ? true : undefined), 30_000);
  const home = await edgeGet(slipway.edgePort, host, '/');
  assert.equal(home.status, 200);
  assert.equal(heading(home.text), 'Server page v2');
  assert.equal(home.headers['x-slipway-deployment'], d.id);
});
