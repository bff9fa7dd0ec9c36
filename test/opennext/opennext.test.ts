import assert from 'node:assert/strict';
import { cp, readFile, readdir, realpath, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildForAws, checkLambdaLimits, LAMBDA_UNZIPPED_LIMIT, LAMBDA_ZIP_LIMIT, zipFolder, type AwsBuild } from '../../src/build/opennext/index.js';
import { AppError } from '../../src/errors/index.js';
import { probeIsolation } from '../../src/sandbox/index.js';
import { functionUrlEvent, readResponse, startLambda, type RunningLambda } from '../helpers/lambda-invoke.js';
import { getLocal, type Standalone, startStandalone } from '../helpers/next-standalone.js';
import { fixturesDir, tempDir } from '../helpers/paths.js';

// The Next.js fixture built for the AWS target for real, once for the whole file: npm ci from the
// registry, then OpenNext's build (which runs `next build`) in the build sandbox. The fixture
// keeps its next 15.5.28: OpenNext's peer range (>=15.5.29) would only be checked by an install
// of OpenNext into the project, and Slipway runs its own copy instead, which builds 15.5.28 fine.
// The server function's zip is then unpacked and invoked like Lambda behind a Function URL, and
// its answers are compared with the same build's standalone server, which is what Slipway's
// runtime runs behind its own edge.
const GREETING = 'hello from slipway';
const HOST = 'shop.example.test';
let tmp: Awaited<ReturnType<typeof tempDir>>;
let sourceDir: string;
let aws: AwsBuild;
const logs: string[] = [];
let sandboxed = false;
let lambda: RunningLambda | undefined;
let standalone: Standalone | undefined;

// what the project's build script does first, from inside the sandbox: try to change OpenNext's
// files and to read Slipway's own (both must fail there), and say what happened in the log
const PROBE = `const fs = require('node:fs');
try { fs.writeFileSync(process.env.PROBE_OPENNEXT + '/planted.js', 'x'); console.log('probe: wrote into OpenNext'); } catch (e) { console.log('probe: OpenNext write ' + e.code); }
try { fs.readdirSync(process.env.PROBE_SLIPWAY); console.log('probe: read Slipway'); } catch (e) { console.log('probe: Slipway read ' + e.code); }
`;

before(async () => {
  tmp = await tempDir('slipway-opennext-');
  sourceDir = join(tmp.path, 'src');
  await cp(join(fixturesDir, 'next-app'), sourceDir, { recursive: true });
  await writeFile(join(sourceDir, 'probe.cjs'), PROBE);
  const pkg = JSON.parse(await readFile(join(sourceDir, 'package.json'), 'utf8'));
  pkg.scripts.build = `node probe.cjs && ${pkg.scripts.build}`;
  await writeFile(join(sourceDir, 'package.json'), JSON.stringify(pkg, null, 2));
  sandboxed = (await probeIsolation()).bwrap.ok;
  // the real path, as the sandbox binds it (node_modules may be a link)
  const openNextDir = await realpath(dirname(dirname(fileURLToPath(import.meta.resolve('@opennextjs/aws/index.js')))));
  aws = await buildForAws({
    sourceDir,
    settings: {},
    env: { NEXT_TELEMETRY_DISABLED: '1', PROBE_OPENNEXT: openNextDir, PROBE_SLIPWAY: join(fixturesDir, '..', '..', 'src') },
    timeoutMs: 600_000,
    log: (line) => logs.push(line),
    cacheDir: join(tmp.path, 'pm-cache'),
    hiddenPaths: [],
    scratchDir: tmp.path,
    zipDir: join(tmp.path, 'zips'),
  });
});

after(async () => {
  await lambda?.close();
  await standalone?.stop();
  await tmp?.cleanup();
});

test('OpenNext runs as the build step, in the sandbox, and its output streams into the build log', () => {
  assert.ok(logs.includes('Running "open-next build"'), logs.join('\n'));
  assert.ok(logs.includes('No next.config file: writing an empty next.config.mjs, which OpenNext needs'));
  assert.ok(
    logs.some((l) => l.includes('Route (app)')),
    'the `next build` OpenNext runs logs its routes',
  );
  assert.ok(logs.includes('OpenNext build complete.'));
  assert.ok(logs.some((l) => /^Packaged the server function: [\d.]+ MiB zipped/.test(l)));
  if (!sandboxed) {
    console.log('# skipped the sandbox checks: bwrap does not work on this machine');
    return;
  }
  assert.ok(!logs.some((l) => l.startsWith('Warning: sandbox unavailable')));
  // read-only for the project's code, and nothing of Slipway's beyond OpenNext's packages
  assert.ok(logs.includes('probe: OpenNext write EROFS'), logs.filter((l) => l.startsWith('probe:')).join('\n'));
  assert.ok(logs.includes('probe: Slipway read ENOENT'), logs.filter((l) => l.startsWith('probe:')).join('\n'));
  assert.ok(aws.timings.nextBuildMs !== undefined && aws.timings.nextBuildMs < aws.timings.openNextMs);
});

test('the function zips are deterministic, within Lambda limits, and the assets are laid out by URL', async () => {
  assert.deepEqual(
    aws.functions.map((f) => [f.name, f.handler]),
    [
      ['server', 'index.handler'],
      ['image', 'index.handler'],
    ],
  );
  // OpenNext's default build answers buffered (a Function URL's InvokeMode BUFFERED)
  assert.deepEqual(
    aws.functions.map((f) => f.streaming),
    [false, false],
  );
  for (const fn of aws.functions) {
    assert.ok(fn.bytes > 100_000 && fn.bytes <= LAMBDA_ZIP_LIMIT, `${fn.name}: ${fn.bytes}`);
    assert.ok(fn.unzippedBytes > fn.bytes && fn.unzippedBytes <= LAMBDA_UNZIPPED_LIMIT);
  }
  // zipping the same folder again, elsewhere and later, gives the very same bytes
  const server = aws.functions[0];
  assert.ok(server !== undefined);
  const again = await zipFolder(join(sourceDir, '.open-next', 'server-functions', 'default'), join(tmp.path, 'again.zip'));
  assert.equal(again.sha256, server.sha256);
  assert.equal(again.bytes, server.bytes);
  const assets = await readdir(aws.assetsDir);
  assert.ok(assets.includes('logo.png') && assets.includes('_next'), assets.join(','));
  assert.ok((await readdir(join(aws.assetsDir, '_next', 'static'))).length > 0);
});

test('a function over Lambda limits is a clear build error', () => {
  assert.throws(
    () => checkLambdaLimits('server', LAMBDA_ZIP_LIMIT + 1, LAMBDA_ZIP_LIMIT + 1),
    (err: unknown) => err instanceof AppError && err.code === 'FUNCTION_TOO_LARGE' && /50\.0 MiB zipped \(Lambda takes at most 50 MB\)/.test(err.message),
  );
  assert.throws(
    () => checkLambdaLimits('image', 1000, LAMBDA_UNZIPPED_LIMIT + 1),
    (err: unknown) => err instanceof AppError && err.code === 'FUNCTION_TOO_LARGE' && /unzipped \(Lambda takes at most 250 MB\)/.test(err.message),
  );
  checkLambdaLimits('server', LAMBDA_ZIP_LIMIT, LAMBDA_UNZIPPED_LIMIT);
});

test('the server function answers Function URL events as the same app does behind Slipway', { timeout: 120_000 }, async () => {
  const server = aws.functions.find((f) => f.name === 'server');
  assert.ok(server !== undefined);
  // by its bytes, as a test of the AWS target takes the uploaded zip back out of the store
  lambda = await startLambda({ zip: await readFile(server.zipPath), handler: server.handler, env: { GREETING } });
  standalone = await startStandalone(join(sourceDir, '.next', 'standalone'), { GREETING }, HOST);
  // a Function URL is HTTPS only; the standalone server gets what Slipway's edge sends for a
  // plain-HTTP visit (with x-forwarded-proto https, next 15.5.28's standalone server sends a
  // middleware rewrite back to itself over TLS and answers 500)
  const headers = { 'x-forwarded-host': HOST, accept: 'text/html' };
  const both = async (path: string) => {
    const fromLambda = readResponse(await (lambda as RunningLambda).invoke(functionUrlEvent({ path, headers })));
    const fromNext = await getLocal((standalone as Standalone).port, path, { ...headers, 'x-forwarded-proto': 'http', 'x-forwarded-port': '80' });
    return { fromLambda, fromNext };
  };
  const host = (html: string) => /<p id="host">([^<]*)<\/p>/.exec(html)?.[1];

  // an SSR page
  const ssr = await both('/ssr');
  for (const res of [ssr.fromLambda, ssr.fromNext]) {
    assert.equal(res.status, 200);
    assert.match(res.text, /Server page <!-- -->v1|Server page v1/);
  }
  assert.equal(host(ssr.fromLambda.text), HOST);
  assert.equal(host(ssr.fromLambda.text), host(ssr.fromNext.text));
  for (const name of ['content-type', 'cache-control', 'x-powered-by']) assert.equal(ssr.fromLambda.headers[name], ssr.fromNext.headers[name], name);
  // next's own server compresses (so it varies on Accept-Encoding); OpenNext leaves that to CloudFront
  const vary = (v: string | undefined) => v?.replace(/, Accept-Encoding$/, '');
  assert.equal(vary(ssr.fromLambda.headers.vary), vary(ssr.fromNext.headers.vary));
  assert.match(ssr.fromLambda.headers.vary ?? '', /^rsc, /);

  // a route handler, with a variable of the function's configuration read at request time
  const api = await both('/api/hello');
  assert.equal(api.fromLambda.status, 200);
  assert.equal(api.fromNext.status, 200);
  assert.deepEqual(JSON.parse(api.fromLambda.text), { hello: 'world', version: 'v1', proto: 'https', greeting: GREETING });
  assert.deepEqual(JSON.parse(api.fromNext.text), { hello: 'world', version: 'v1', proto: 'http', greeting: GREETING });
  assert.equal(api.fromLambda.headers['content-type'], api.fromNext.headers['content-type']);

  // the middleware's rewrite: /old-page is the server page, without a redirect
  const rewritten = await both('/old-page');
  for (const res of [rewritten.fromLambda, rewritten.fromNext]) {
    assert.equal(res.status, 200);
    assert.equal(res.headers.location, undefined);
    assert.match(res.text, /Server page <!-- -->v1|Server page v1/);
  }
  assert.equal(rewritten.fromLambda.headers['content-type'], rewritten.fromNext.headers['content-type']);
});
