import { cp, mkdir, symlink, writeFile } from 'node:fs/promises';
import { createServer, request, type Agent, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { packageOutput, packageServer } from '../../src/artifact/index.js';
import type { BlobStore } from '../../src/blobs/index.js';
import type { ServerBundle } from '../../src/manifest/index.js';
import type { Runtime, ServerLimitOverrides } from '../../src/runtime/index.js';
import { fixturesDir } from '../helpers/paths.js';

/**
 * The runtime-app fixture as a build would leave it: server.mjs plus a node_modules tree of
 * `packages` small packages (a few files each) and the symlinks package managers make.
 */
export async function writeAppBundle(dir: string, packages = 60): Promise<string> {
  await cp(join(fixturesDir, 'runtime-app'), dir, { recursive: true });
  for (let i = 0; i < packages; i += 1) {
    const pkg = join(dir, 'node_modules', `pkg-${i}`);
    await mkdir(join(pkg, 'lib'), { recursive: true });
    await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: `pkg-${i}`, version: '1.0.0', main: 'lib/index.js' }));
    await writeFile(join(pkg, 'lib', 'index.js'), `module.exports = ${i % 7};\n`);
    await writeFile(join(pkg, 'lib', 'util.js'), `exports.id = ${i};\n`);
    await writeFile(join(pkg, 'README.md'), `# pkg-${i}\n`);
  }
  await mkdir(join(dir, 'node_modules', '.bin'), { recursive: true });
  await writeFile(join(dir, 'node_modules', 'pkg-0', 'cli.js'), '#!/usr/bin/env node\nconsole.log("hi")\n', { mode: 0o755 });
  await symlink('../pkg-0/cli.js', join(dir, 'node_modules', '.bin', 'pkg-0'));
  // a scoped alias folder, as pnpm lays them out: a link to a sibling folder
  await mkdir(join(dir, 'node_modules', '@scope'), { recursive: true });
  await symlink('../pkg-1', join(dir, 'node_modules', '@scope', 'one'));
  return dir;
}

/** A bundle of one server file (`server.mjs` with `source`), for tests that need a server of their own. */
export async function packageScript(root: string, blobs: BlobStore, name: string, source: string): Promise<ServerBundle> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'server.mjs'), source);
  const { bundle } = await packageServer({ bundleDir: dir, entry: 'server.mjs', blobs, log: () => {} });
  return bundle;
}

export async function packageApp(root: string, blobs: BlobStore, name: string): Promise<ServerBundle> {
  const dir = await writeAppBundle(join(root, name));
  const { bundle } = await packageServer({ bundleDir: dir, entry: 'server.mjs', blobs, log: () => {} });
  return bundle;
}

/**
 * A whole SSR deployment of the fixture app: its server bundle plus one static file
 * (robots.txt); returns the manifest hash an edge lookup points at.
 */
export async function packageSsrSite(root: string, blobs: BlobStore): Promise<string> {
  const bundle = await packageApp(root, blobs, 'app');
  const out = join(root, 'static');
  await mkdir(out);
  await writeFile(join(out, 'robots.txt'), 'User-agent: *\n');
  return (await packageOutput({ outputDir: out, blobs, log: () => {}, server: bundle })).manifestHash;
}

export interface Target {
  id: string;
  bundle: ServerBundle;
  env: Record<string, string>;
  limits?: ServerLimitOverrides;
}

/** An edge stand-in: every request goes to whatever `pick()` names at that moment. */
export async function startFront(runtime: Runtime, pick: () => Target): Promise<{ port: number; server: Server; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const { id, bundle, env, limits } = pick();
    runtime.ensure(id, bundle, env, limits).then(
      (target) => runtime.proxy(req, res, id, target, { proto: 'http', clientIp: req.socket.remoteAddress ?? '' }),
      (err: Error) => {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end(err.message);
      },
    );
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const { id, bundle, env } = pick();
    runtime.ensure(id, bundle, env).then(
      (target) => runtime.proxyUpgrade(req, socket, head, id, target, { proto: 'http', clientIp: req.socket.remoteAddress ?? '' }),
      () => socket.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request; rejects only when the connection fails or the body is cut off. */
export function get(port: number, path: string, opts: { agent?: Agent; headers?: Record<string, string>; method?: string; body?: string; host?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: opts.host ?? '127.0.0.1', port, path, method: opts.method ?? 'GET', agent: opts.agent ?? false, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('response aborted')));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until `check` holds, polling; fails after `ms`. */
export async function until(check: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
