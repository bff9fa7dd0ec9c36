import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { packageServer } from '../../src/artifact/index.js';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { runBuild, type BuildResult } from '../../src/build/index.js';
import { locateOutput } from '../../src/build/output.js';
import { AppError } from '../../src/errors/index.js';
import { detectFramework } from '../../src/frameworks/index.js';
import { materializeBundle } from '../../src/runtime/materialize.js';
import { fixturesDir, tempDir } from '../helpers/paths.js';

// Server bundles of an app inside a monorepo, installed and built for real: the packaged bundle
// is written out into a folder of its own (as the runtime does on another machine), with no
// workspace around it, and its server must start and answer from that alone.
let tmp: Awaited<ReturnType<typeof tempDir>>;
let blobs: LocalBlobStore;
let counter = 0;
const servers: ChildProcess[] = [];

before(async () => {
  tmp = await tempDir('slipway-ws-server-');
  blobs = new LocalBlobStore(join(tmp.path, 'blobs'));
});
after(async () => {
  for (const child of servers) if (child.exitCode === null) child.kill('SIGKILL');
  await tmp.cleanup();
});

async function build(fixture: string, rootDirectory: string): Promise<BuildResult & { log: string }> {
  const sourceDir = join(tmp.path, `src-${++counter}`);
  await cp(join(fixturesDir, fixture), sourceDir, { recursive: true });
  const lines: string[] = [];
  const result = await runBuild({ sourceDir, settings: { rootDirectory }, env: {}, timeoutMs: 600_000, log: (l) => lines.push(l), cacheDir: join(tmp.path, 'pm-cache'), hiddenPaths: [] });
  return { ...result, log: lines.join('\n') };
}

/** Package the build's server bundle into the blob store and write it out as the runtime does, away from the checkout. */
async function shipBundle(result: BuildResult): Promise<{ dir: string; entry: string; args: string[] }> {
  assert.ok(result.server !== undefined, 'a server build');
  const { bundle } = await packageServer({ bundleDir: result.server.bundleDir, entry: result.server.entry, args: result.server.args, blobs, log: () => undefined });
  const dir = await materializeBundle(blobs, join(tmp.path, 'bundles'), `d${++counter}`, bundle);
  return { dir, entry: bundle.entry, args: bundle.args ?? [] };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Start `node entry ...args` in the bundle folder and return its base URL once it answers; the output is kept for failures. */
async function startServer(bundle: { dir: string; entry: string; args: string[] }): Promise<{ url: string; output: string[] }> {
  const port = await freePort();
  const output: string[] = [];
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', PORT: String(port), HOST: '127.0.0.1', HOSTNAME: '127.0.0.1', NODE_ENV: 'production' };
  const child = spawn(process.execPath, [bundle.entry, ...bundle.args], { cwd: bundle.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(child);
  child.stdout.on('data', (c: Buffer) => output.push(c.toString()));
  child.stderr.on('data', (c: Buffer) => output.push(c.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) assert.fail(`the server exited with ${child.exitCode}:\n${output.join('')}`);
    const up = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      () => true,
      () => false,
    );
    if (up) return { url, output };
    await new Promise((r) => setTimeout(r, 200));
  }
  return assert.fail(`the server did not answer within 30s:\n${output.join('')}`);
}

/** every file below dir, '/'-separated */
async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

// (the npm workspace, mono-next-standalone, is deployed end to end in e2e/starters-monorepo)
for (const [fixture, manager] of [['mono-pnpm-next', 'pnpm']] as [string, 'npm' | 'pnpm'][]) {
  describe(`Next.js output: "standalone" in ${manager === 'npm' ? 'an' : 'a'} ${manager} workspace (rootDirectory apps/web)`, () => {
    let result: Awaited<ReturnType<typeof build>>;

    before(async () => {
      result = await build(fixture, 'apps/web');
      assert.equal(result.packageManager, manager);
    });

    it('finds server.js where Next traced it from, below the workspace path in .next/standalone', () => {
      assert.equal(result.framework.id, 'nextjs');
      assert.match(result.log, /^Next\.js traced the standalone output from the workspace root: its server is \.next\/standalone\/apps\/web\/server\.js$/m);
      assert.ok(result.server?.bundleDir.endsWith(join('apps', 'web', '.next', 'standalone')), result.server?.bundleDir);
      assert.equal(result.server?.entry, 'apps/web/server.js');
    });

    it('the packaged bundle starts on its own and renders the page with the workspace package', async () => {
      const bundle = await shipBundle(result);
      // next lives at the standalone root (traced from the workspace root's node_modules; pnpm's as a link into .pnpm)
      assert.ok(await stat(join(bundle.dir, manager === 'npm' ? 'node_modules' : 'apps/web/node_modules', 'next', 'package.json')).then(() => true), 'next in the bundle');
      const { url, output } = await startServer(bundle);
      const page = await fetch(`${url}/`);
      const html = await page.text();
      assert.equal(page.status, 200, output.join(''));
      assert.match(html, /<h1>Hello, <!-- -->monorepo<!-- -->, from @mono\/greeting<\/h1>|<h1>Hello, monorepo, from @mono\/greeting<\/h1>/);
      const missing = await fetch(`${url}/no-such-page`);
      assert.equal(missing.status, 404);
    });

    it('the static files come from apps/web/.next/static and apps/web/public, laid out by URL', async () => {
      const files = await filesBelow(result.outputDir);
      assert.ok(files.includes('hello.txt'), files.join(', '));
      assert.equal(await readFile(join(result.outputDir, 'hello.txt'), 'utf8'), 'a file from apps/web/public\n');
      const chunks = files.filter((f) => f.startsWith('_next/static/chunks/') && f.endsWith('.js'));
      assert.ok(chunks.length > 0, files.join(', '));
    });
  });
}

describe('SvelteKit adapter-node in an npm workspace: its dependencies are hoisted to the root', () => {
  let result: Awaited<ReturnType<typeof build>>;

  before(async () => {
    result = await build('mono-sveltekit-node', 'apps/web');
  });

  it('bundles the workspace root node_modules, the app and the workspace package it imports', () => {
    assert.equal(result.framework.variant, 'node');
    assert.match(result.log, /^Server bundle: the workspace root's node_modules, apps\/web and packages\/greeting \(\d+ files\), so the server starts from the bundle alone$/m);
    assert.equal(result.server?.entry, 'apps/web/build/index.js');
  });

  it('the packaged bundle starts on its own and renders with ms and @mono/greeting from the root node_modules', async () => {
    const bundle = await shipBundle(result);
    // npm hoisted ms; the app folder has no node_modules of its own
    assert.equal(
      await stat(join(bundle.dir, 'apps', 'web', 'node_modules')).then(
        () => true,
        () => false,
      ),
      false,
    );
    const { url, output } = await startServer(bundle);
    const page = await fetch(`${url}/`);
    const html = await page.text();
    assert.equal(page.status, 200, output.join(''));
    assert.match(html, /<h1>Hello, kit, from @mono\/greeting<\/h1>/);
    assert.match(html, /<p id="ms">172800000<\/p>/);
    assert.equal((await fetch(`${url}/no-such-page`)).status, 404);
  });

  it('serves build/client from the package: static/ and the immutable app files', async () => {
    const files = await filesBelow(result.outputDir);
    assert.ok(files.includes('robots.txt'), files.join(', '));
    assert.ok(
      files.some((f) => f.startsWith('_app/immutable/')),
      files.join(', '),
    );
  });
});

describe('React Router in a pnpm workspace: node_modules/.pnpm at the root, links in the app', () => {
  let result: Awaited<ReturnType<typeof build>>;

  before(async () => {
    result = await build('mono-pnpm-react-router', 'apps/web');
  });

  it("starts react-router-serve's script from the app's own .bin, with the server build's path inside the bundle", () => {
    assert.equal(result.framework.id, 'react-router');
    assert.match(result.server?.entry ?? '', /^node_modules\/\.pnpm\/@react-router\+serve@7\.18\.4[^/]*\/node_modules\/@react-router\/serve\/bin\.js$/);
    assert.deepEqual(result.server?.args, ['apps/web/build/server/index.js']);
  });

  it('the packaged bundle starts on its own: react-router-serve renders with the workspace package', async () => {
    const bundle = await shipBundle(result);
    const { url, output } = await startServer(bundle);
    const page = await fetch(`${url}/`);
    const html = await page.text();
    assert.equal(page.status, 200, `${output.join('')}\n${html.slice(0, 1000)}`);
    assert.match(html, /<h1>Hello, react-router, from @mono\/greeting<\/h1>/);
    assert.equal((await fetch(`${url}/no-such-page`)).status, 404);
  });
});

describe("yarn Plug'n'Play and a server that runs with its node_modules", () => {
  it('fails with the setting to use (nodeLinker: node-modules), naming what it found', async () => {
    // what a SvelteKit adapter-node build leaves in a yarn 4 PnP workspace: .pnp.cjs at the root, no node_modules
    const root = join(tmp.path, 'pnp');
    const files: Record<string, string> = {
      '.pnp.cjs': '// yarn PnP\n',
      'package.json': '{"workspaces":["apps/*"],"packageManager":"yarn@4.13.0"}',
      'apps/web/package.json': '{"devDependencies":{"@sveltejs/kit":"2.70.4","@sveltejs/adapter-node":"5.5.7"}}',
      'apps/web/svelte.config.js': "import adapter from '@sveltejs/adapter-node';\nexport default { kit: { adapter: adapter() } };\n",
      'apps/web/build/index.js': 'import "polka";\n',
      'apps/web/build/client/robots.txt': 'x\n',
    };
    for (const [path, text] of Object.entries(files)) {
      await mkdir(join(root, path, '..'), { recursive: true });
      await writeFile(join(root, path), text);
    }
    const webDir = join(root, 'apps', 'web');
    const framework = await detectFramework(webDir);
    assert.equal(framework.variant, 'node');
    const ws = { dir: root, packageRel: 'apps/web', dependencies: [] };
    await assert.rejects(
      locateOutput(webDir, framework, undefined, () => undefined, root, undefined, ws),
      (err: unknown) => {
        assert.ok(err instanceof AppError && err.code === 'OUTPUT_NOT_FOUND', String(err));
        assert.match(
          err.message,
          /^The SvelteKit server needs its dependencies in node_modules, but yarn installed them with Plug'n'Play \(\.pnp\.cjs\), which writes none\. Set nodeLinker: node-modules in \.yarnrc\.yml/,
        );
        return true;
      },
    );
  });
});
