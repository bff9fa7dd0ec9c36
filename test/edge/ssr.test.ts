import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { after, before, test } from 'node:test';
import { packageOutput } from '../../src/artifact/index.js';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { createEdgeServer, createMemoryLookup } from '../../src/edge/index.js';
import { createRuntimeGateway } from '../../src/runtime/index.js';
import { tempDir } from '../helpers/paths.js';
import { writeFile, mkdir } from 'node:fs/promises';
import { packageApp } from '../runtime/helpers.js';

// The edge in front of a real server process (the runtime's fixture app): static files from
// the manifest, everything else (any method, upgrades) proxied to the deployment's server.
let tmp: Awaited<ReturnType<typeof tempDir>>;
let port: number;
let close: () => Promise<void>;
let lookup: ReturnType<typeof createMemoryLookup>;
let edge: ReturnType<typeof createEdgeServer>;
let manifestHash: string;
let staticOnlyHash: string;

before(async () => {
  tmp = await tempDir();
  const blobs = new LocalBlobStore(join(tmp.path, 'blobs'));
  const bundle = await packageApp(tmp.path, blobs, 'app');
  const out = join(tmp.path, 'static');
  await mkdir(out);
  await writeFile(join(out, 'robots.txt'), 'User-agent: *\n');
  manifestHash = (await packageOutput({ outputDir: out, blobs, log: () => {}, server: bundle })).manifestHash;
  staticOnlyHash = (await packageOutput({ outputDir: out, blobs, log: () => {} })).manifestHash;
  lookup = createMemoryLookup({
    'ssr.localhost': { deploymentId: 'dssr1', manifestHash },
    'plain.localhost': { deploymentId: 'dplain', manifestHash: staticOnlyHash },
  });
  const { gateway, runtime } = createRuntimeGateway(blobs, tmp.path, { memoryMb: 0, requestTimeoutMs: 10_000, idleMs: 60_000 });
  edge = createEdgeServer({ lookup, blobs, servers: gateway, drainGraceMs: 1000 });
  await new Promise<void>((resolve) => edge.server.listen(0, '127.0.0.1', resolve));
  port = (edge.server.address() as AddressInfo).port;
  close = async () => {
    await edge.close();
    await runtime.close();
  };
});

after(async () => {
  await close();
  await tmp.cleanup();
});

function call(host: string, path: string, method = 'GET', body?: string): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { host }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('static files come from the manifest, everything else from the server, any method', async () => {
  const robots = await call('ssr.localhost', '/robots.txt');
  assert.equal(robots.text, 'User-agent: *\n');
  assert.ok(typeof robots.headers.etag === 'string', 'served by the edge');
  const page = await call('ssr.localhost', '/');
  assert.equal(page.status, 200);
  assert.equal(page.headers['x-slipway-deployment'], 'dssr1');
  assert.equal(JSON.parse(page.text).version, 'v0');
  const posted = await call('ssr.localhost', '/echo', 'POST', 'x'.repeat(1000));
  assert.equal(posted.text, 'v0 got 1000 bytes');
  const forwarded = JSON.parse((await call('ssr.localhost', '/headers')).text) as Record<string, string>;
  assert.equal(forwarded['x-forwarded-host'], 'ssr.localhost');
  assert.equal(forwarded['x-forwarded-proto'], 'http');
  assert.equal(forwarded.host, 'ssr.localhost');
});

test('a server runs sandboxed: the platform data dir is hidden from it', async () => {
  await writeFile(join(tmp.path, 'secret.key'), 'platform secret');
  const res = await call('ssr.localhost', `/read?path=${encodeURIComponent(join(tmp.path, 'secret.key'))}`);
  assert.equal(res.text, 'cannot read: ENOENT');
  const own = await call('ssr.localhost', '/');
  assert.match(JSON.parse(own.text).data, /./, 'its own files are readable');
});

test('a static-only deployment still answers other methods with 405', async () => {
  const res = await call('plain.localhost', '/robots.txt', 'POST', 'x');
  assert.equal(res.status, 405);
});

test('upgraded connections (WebSocket-style) are relayed to the server', async () => {
  const socket = await new Promise<Duplex>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/shout', headers: { host: 'ssr.localhost', connection: 'Upgrade', upgrade: 'shout' } });
    req.on('upgrade', (_res, s) => resolve(s));
    req.on('response', (res) => reject(new Error(`no upgrade: HTTP ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
  const echoed = new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));
  socket.write('hello');
  assert.equal(await echoed, 'HELLO');
  socket.destroy();
  const refused = await new Promise<number>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/shout', headers: { host: 'plain.localhost', connection: 'Upgrade', upgrade: 'shout' } });
    req.on('upgrade', () => resolve(101));
    req.on('response', (res) => resolve(res.statusCode ?? 0));
    req.on('error', () => resolve(-1));
    req.end();
  });
  assert.equal(refused, 404, 'a static deployment has nothing to upgrade to');
});

test('refresh() switches a Host only once the new server answers', async () => {
  lookup.set('ssr.localhost', { deploymentId: 'dssr2', manifestHash });
  await edge.refresh();
  const page = await call('ssr.localhost', '/');
  assert.equal(page.headers['x-slipway-deployment'], 'dssr2');
  assert.equal(page.status, 200);
});
