import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ServerProcess } from '../../src/runtime/server-process.js';
import { startFixtureApp, type FixtureApp } from '../helpers/fixture-app.js';
import { tempDir } from '../helpers/paths.js';
import { makeTestCa } from '../tls/certs.js';
import { h1get } from '../tls/clients.js';
import { checkNextBody, startLoad } from '../helpers/load.js';
import { edgeGet, waitFor, type RunningSlipway } from '../helpers/slipway.js';
import { deploysAndRollbacksUnderLoad } from '../helpers/zero-downtime.js';

// A real Next.js app (app router) from a push to serving through the edge: real npm ci from the
// registry, real `next build` with standalone output switched on from outside, its server run
// by the runtime, static files served by the edge itself. Then, under load: new versions
// pushed, rolled back, and production moved back and forth, with no failed request.
// The edge runs as it does by default, one process per core (here: 2).
// one push (v2 -> v3) and one rollback (v3 -> v2) cover both directions of a switch between two
// running servers; `npm run bench -- moves` is the long run (10 of each)
const NEW_VERSIONS = Number(process.env.SLIPWAY_TEST_NEW_VERSIONS ?? 1);
let app: FixtureApp;
let slipway: RunningSlipway;
let tls: Awaited<ReturnType<typeof tempDir>>;
let caPem: string;
let httpsPort: number;
const host = 'next.localhost';
const secureHost = 'next-secure.test';
const ids: Record<string, string> = {};

before(async () => {
  // HTTPS on the edge too, for a custom domain of the project (its operator certificate; next.localhost
  // stays plain HTTP): over it the app sees x-forwarded-proto: https
  tls = await tempDir('slipway-next-tls-');
  const ca = await makeTestCa();
  caPem = ca.certPem;
  const leaf = await ca.issue([secureHost]);
  await writeFile(join(tls.path, 'next.crt'), leaf.certPem);
  await writeFile(join(tls.path, 'next.key'), leaf.keyPem);
  const https = ['--https-port', '0', '--tls-cert', join(tls.path, 'next.crt'), '--tls-key', join(tls.path, 'next.key')];
  app = await startFixtureApp({ fixture: 'next-app', name: 'next', versionFile: 'lib/version.js', flags: ['--edge-workers', '2', ...https] });
  slipway = app.slipway;
  const health = await fetch(`${slipway.apiUrl}/healthz`).then((r) => r.json() as Promise<{ roles: { edge: { httpsPort: number } } }>);
  httpsPort = health.roles.edge.httpsPort;
  const domain = await slipway.api('POST', '/api/v1/projects/next/domains', { name: secureHost });
  assert.equal(domain.status, 201, JSON.stringify(domain.body));
  // a project variable: the server reads it at request time, in every edge process
  const env = await slipway.api('PUT', '/api/v1/projects/next/env/GREETING', { value: 'hello from slipway' });
  assert.equal(env.status, 201, JSON.stringify(env.body));
});

after(async () => {
  await app?.close();
  await tls?.cleanup();
});

async function deploy(version: string): Promise<any> {
  const d = await app.deploy(version);
  ids[version] = d.id;
  return d;
}

test('a Next.js app deploys from a push and every kind of route answers through the edge', { timeout: 900_000 }, async () => {
  const d = await deploy('v1');
  assert.equal(d.build.framework.id, 'nextjs');
  assert.equal(d.build.framework.variant, 'server');
  // ready means live: both edge processes started its server before production moved to it,
  // and liveAt was recorded once both served it
  const log = await slipway.api('GET', `/api/v1/deployments/${d.id}/logs?limit=5000`);
  const lines = (log.body.lines as { text: string }[]).map((l) => l.text);
  assert.ok(
    lines.some((l) => /^Warmed on 2 edges in \d+ ms\.$/.test(l)),
    lines.slice(-8).join('\n'),
  );
  const live = await waitFor('liveAt', async () => ((await slipway.api('GET', `/api/v1/deployments/${d.id}`)).body.liveAt as string | null) ?? undefined, 15_000);
  assert.ok(Date.parse(live) >= Date.parse(d.finishedAt));

  const home = await edgeGet(slipway.edgePort, host, '/');
  assert.equal(home.status, 200);
  assert.match(home.text, /Static page <!-- -->v1|Static page v1/);

  const ssr1 = await edgeGet(slipway.edgePort, host, '/ssr');
  const ssr2 = await edgeGet(slipway.edgePort, host, '/ssr');
  assert.equal(ssr1.status, 200);
  assert.match(ssr1.text, /Server page/);
  const time = (html: string) => /<p id="time">([^<]+)<\/p>/.exec(html)?.[1];
  assert.ok(time(ssr1.text) !== undefined && time(ssr1.text) !== time(ssr2.text), 'rendered on every request');
  assert.match(ssr1.text, new RegExp(`<p id="host">${host}`), 'the app sees the Host visitors used');

  const api = await edgeGet(slipway.edgePort, host, '/api/hello');
  assert.equal(api.status, 200);
  assert.deepEqual(JSON.parse(api.text), { hello: 'world', version: 'v1', proto: 'http', greeting: 'hello from slipway' });
  for (let i = 0; i < 6; i++) {
    // new connections: the kernel spreads them over the edge processes, and each must serve the variable
    assert.equal(JSON.parse((await edgeGet(slipway.edgePort, host, '/api/hello')).text).greeting, 'hello from slipway');
  }

  const rewritten = await edgeGet(slipway.edgePort, host, '/old-page');
  assert.equal(rewritten.status, 200);
  assert.match(rewritten.text, /Server page/, 'middleware rewrote /old-page to /ssr');
  // over HTTPS (x-forwarded-proto: https) the same rewrite once answered 500: Next.js proxied it
  // to itself over TLS when its server was started with HOSTNAME=127.0.0.1 (vercel/next.js#94745)
  const secure = await h1get(httpsPort, secureHost, caPem, '/old-page');
  assert.equal(secure.status, 200, secure.text.slice(0, 300));
  assert.match(secure.text, /Server page/, 'middleware rewrote /old-page to /ssr over HTTPS');
  assert.equal(JSON.parse((await h1get(httpsPort, secureHost, caPem, '/api/hello')).text).proto, 'https', 'the app still sees the visitor used HTTPS');
  // a root install runs the server in its own network namespace (listening on 0.0.0.0, which Next
  // handles); without one, it listens on loopback, where the bug was: the same bundle, started the
  // way the runtime starts servers there, answers the rewrite of an HTTPS request
  const args = slipway.proc.spawnargs;
  const server = await ServerProcess.start({ deploymentId: d.id, cwd: join(args[args.indexOf('--data-dir') + 1]!, 'runtime', d.id), entry: 'server.js', env: {}, startTimeoutMs: 30_000 });
  try {
    const onLoopback = await edgeGet(server.port, host, '/old-page', { 'x-forwarded-proto': 'https', 'x-forwarded-host': host });
    assert.equal(onLoopback.status, 200, onLoopback.text.slice(0, 300));
    assert.match(onLoopback.text, /Server page/);
  } finally {
    await server.stop();
  }

  const logo = await edgeGet(slipway.edgePort, host, '/logo.png');
  assert.equal(logo.status, 200);
  assert.equal(logo.headers['content-type'], 'image/png');
  assert.ok(logo.headers.etag !== undefined, 'public/ is served by the edge itself (content-hash ETag)');

  const chunk = /\/_next\/static\/[^"]+\.js/.exec(home.text)?.[0];
  assert.ok(chunk !== undefined, 'the page links its JavaScript');
  const js = await edgeGet(slipway.edgePort, host, chunk);
  assert.equal(js.status, 200);
  assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');

  const missing = await edgeGet(slipway.edgePort, host, '/no-such-page');
  assert.equal(missing.status, 404, "Next.js' own not-found page");
});

test(`${NEW_VERSIONS} push(es) and ${NEW_VERSIONS} rollback(s) under load: no failed request, every response whole and from one version`, { timeout: 1_800_000 }, async (t) => {
  // the second build of the app, pushed under load: it restores node_modules from the cache
  const versions = { [ids.v1!]: 'v1' };
  const result = await deploysAndRollbacksUnderLoad({
    slipway,
    repo: app.repo,
    project: 'next',
    webhookSecret: app.webhookSecret,
    host,
    versions,
    firstVersion: 2,
    deploys: NEW_VERSIONS,
    rollbacks: NEW_VERSIONS,
    concurrency: 16,
    log: (line) => t.diagnostic(line),
  });
  t.diagnostic(`${result.requests} requests in ${result.seconds.toFixed(0)} s, ${result.failures.length} failed`);
  assert.equal(result.deploys.length, NEW_VERSIONS);
  assert.ok(
    result.deploys.every((d) => d.cache === 'hit'),
    'a push that changes only source files restores the dependencies',
  );
  assert.ok(result.requests > 100, `the load ran (${result.requests} requests)`);
  assert.deepEqual(result.failures.slice(0, 10), [], `${result.failures.length} of ${result.requests} requests failed`);
  // back where the pushes started
  assert.equal(JSON.parse((await edgeGet(slipway.edgePort, host, '/api/hello')).text).version, 'v1');
  ids.v2 = result.deploys[0]!.id;
});

test('promote and rollback under load: no failed request, every response whole and from one version', { timeout: 300_000 }, async () => {
  const load = startLoad({
    port: slipway.edgePort,
    host,
    paths: ['/', '/ssr', '/api/hello', '/logo.png'],
    concurrency: 16,
    versions: () => ({ [ids.v1!]: 'v1', [ids.v2!]: 'v2' }),
    check: checkNextBody,
  });
  // production is on v1 after the rollback above
  for (let i = 0; i < 10; i++) {
    assert.equal((await slipway.api('POST', `/api/v1/deployments/${ids.v2}/promote`)).status, 200);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await slipway.api('POST', '/api/v1/projects/next/rollback', { deploymentId: ids.v1 })).status, 200);
    await new Promise((r) => setTimeout(r, 300));
  }
  const { requests, failures } = await load.stop();
  assert.ok(requests > 100, `the load ran (${requests} requests)`);
  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} of ${requests} requests failed`);
});
