import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { packageOutput } from '../../src/artifact/index.js';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { createMemoryLookup, type EdgeServer } from '../../src/edge/index.js';
import { parseRedirects, vercelRules } from '../../src/rules/index.js';
import { createRuntimeGateway } from '../../src/runtime/index.js';
import { tempDir } from '../helpers/paths.js';
import { packageApp } from '../runtime/helpers.js';
import { get, listenEdge } from '../edge/helpers.js';

// Site rules in front of a real server process (the runtime's fixture app): redirects before
// everything, static files before the server, rewrites to the server with the rewritten path,
// and the rules' headers on the server's answers too.
let tmp: Awaited<ReturnType<typeof tempDir>>;
let edge: EdgeServer;
let port: number;
let closeRuntime: () => Promise<void>;

before(async () => {
  tmp = await tempDir('slipway-rules-ssr-');
  const blobs = new LocalBlobStore(join(tmp.path, 'blobs'));
  const bundle = await packageApp(tmp.path, blobs, 'app');
  const out = join(tmp.path, 'static');
  await mkdir(out);
  await writeFile(join(out, 'robots.txt'), 'User-agent: *\n');
  const vercel = vercelRules(
    JSON.stringify({
      redirects: [{ source: '/go', destination: '/', permanent: false }],
      rewrites: [
        { source: '/api/:path*', destination: '/headers' },
        { source: '/r/robots', destination: '/robots.txt' },
      ],
      headers: [{ source: '/(.*)', headers: [{ key: 'X-Rule', value: 'yes' }] }],
    }),
  );
  const netlify = { platform: 'netlify' as const, routes: parseRedirects('/legacy/*  /headers  200\n/robots.txt  /version  200\n') };
  const pack = async (rules: typeof vercel) => (await packageOutput({ outputDir: out, blobs, log: () => {}, server: bundle, rules })).manifestHash;
  const lookup = createMemoryLookup({
    'vssr.localhost': { deploymentId: 'dvssr', manifestHash: await pack(vercel) },
    'nssr.localhost': { deploymentId: 'dnssr', manifestHash: await pack(netlify) },
  });
  const { gateway, runtime } = createRuntimeGateway(blobs, tmp.path, { memoryMb: 0, requestTimeoutMs: 10_000, idleMs: 60_000 });
  ({ edge, port } = await listenEdge({ lookup, blobs, servers: gateway, drainGraceMs: 1000, log: () => {} }));
  closeRuntime = () => runtime.close();
});

after(async () => {
  await edge?.close();
  await closeRuntime?.();
  await tmp?.cleanup();
});

test('vercel.json on an SSR deployment: redirects first, then files, then rewrites to the server, headers on every answer', async () => {
  const page = await get(port, 'vssr.localhost', '/');
  assert.equal(page.status, 200);
  assert.equal(JSON.parse(page.text).version, 'v0', 'what no rule touches still reaches the server');
  assert.equal(page.headers['x-rule'], 'yes', "rule headers are added to the server's answer");
  const api = await get(port, 'vssr.localhost', '/api/users?x=1');
  assert.equal(api.status, 200);
  const seen = JSON.parse(api.text) as Record<string, string>;
  assert.equal(seen.host, 'vssr.localhost', 'the server got the rewritten path (/headers answers with the request headers)');
  assert.deepEqual(api.headers['set-cookie'], ['a=1', 'b=2']);
  assert.equal(api.headers['x-rule'], 'yes');
  const robots = await get(port, 'vssr.localhost', '/r/robots');
  assert.equal(robots.text, 'User-agent: *\n');
  assert.equal(robots.headers['x-rule'], 'yes');
  assert.equal((await get(port, 'vssr.localhost', '/go')).status, 307);
  assert.equal((await get(port, 'vssr.localhost', '/go', { method: 'POST' })).status, 307, 'a redirect answers any method');
});

test('_redirects on an SSR deployment: a 200 rewrite reaches the server with the rewritten path; files are not shadowed', async () => {
  const legacy = await get(port, 'nssr.localhost', '/legacy/a/b');
  assert.equal(legacy.status, 200);
  assert.equal((JSON.parse(legacy.text) as Record<string, string>).host, 'nssr.localhost');
  const robots = await get(port, 'nssr.localhost', '/robots.txt');
  assert.equal(robots.text, 'User-agent: *\n', 'a rule without "!" does not shadow the file');
});
