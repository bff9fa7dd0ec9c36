import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { packageOutput, packageServer } from '../../src/artifact/index.js';
import { LocalBlobStore } from '../../src/blobs/index.js';
import { runBuild, type BuildCacheOptions, type BuildResult } from '../../src/build/index.js';
import { openProjectCache, restoreDependencies, saveDependencies } from '../../src/build/cache.js';
import { AppError } from '../../src/errors/index.js';
import { tempDir } from '../helpers/paths.js';

// The worker runs outside the sandbox (as root in production) and assembles static folders,
// saves and restores caches and packages output from folders a hostile build wrote. Each test
// plants the symlinks a hostile repository or build would and checks by effect that nothing of
// a host folder (standing in for the data dir with secret.key and slipway.db) gets out, and
// that the worker writes nothing into one.
let tmp: Awaited<ReturnType<typeof tempDir>>;
let counter = 0;
/** a host folder holding a random secret; builds must never get it into an artifact or a cache */
let secretDir: string;
let secret: string;

before(async () => {
  tmp = await tempDir('slipway-links-');
  secretDir = join(tmp.path, 'data');
  secret = randomBytes(24).toString('hex');
  await mkdir(secretDir);
  await writeFile(join(secretDir, 'secret.key'), secret);
  // what a build would need to pass for a Next.js standalone server, had it found this folder
  await writeFile(join(secretDir, 'server.js'), `// ${secret}\n`);
});
after(() => tmp.cleanup());

/** a host folder that starts empty (and must stay so) */
async function emptyHostDir(): Promise<string> {
  const dir = join(tmp.path, `host-${++counter}`);
  await mkdir(dir);
  return dir;
}

/**
 * A Next.js project (detected from its package.json, nothing installed) whose build is
 * `node build.js`: `prelude`, the standard standalone output, then `script` (hostile extras).
 */
async function nextCheckout(script: string, links: Record<string, string> = {}, prelude = ''): Promise<string> {
  const dir = join(tmp.path, `src-${++counter}`);
  await mkdir(dir);
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'site', private: true, dependencies: { next: '15.0.0' } }));
  const standard = `
    const fs = require('fs');
    ${prelude}
    fs.mkdirSync('.next/standalone', { recursive: true });
    fs.writeFileSync('.next/standalone/server.js', 'require("http").createServer((q, s) => s.end("ok")).listen(process.env.PORT);');
    fs.mkdirSync('.next/static/chunks', { recursive: true });
    fs.writeFileSync('.next/static/chunks/app.js', 'console.log("app");');
  `;
  await writeFile(join(dir, 'build.js'), `${standard}\n${script}\n`);
  for (const [path, target] of Object.entries(links)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await symlink(target, join(dir, path));
  }
  return dir;
}

async function build(sourceDir: string, env: Record<string, string>, cache?: BuildCacheOptions): Promise<BuildResult & { lines: string[] }> {
  const lines: string[] = [];
  const result = await runBuild({
    sourceDir,
    settings: { installCommand: '', buildCommand: 'node build.js' },
    env,
    timeoutMs: 60_000,
    log: (l) => lines.push(l),
    cacheDir: join(tmp.path, `pm-cache-${++counter}`),
    hiddenPaths: [secretDir],
    cache,
  });
  return { ...result, lines };
}

/** every file under `dir`, recursively, with its bytes */
async function filesUnder(dir: string): Promise<{ path: string; bytes: Buffer }[]> {
  const out: { path: string; bytes: Buffer }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out.push({ path, bytes: await readFile(path) });
  }
  return out;
}

const holdingSecret = async (dir: string) => (await filesUnder(dir)).filter((f) => f.bytes.includes(secret)).map((f) => f.path);

describe('SSR static folders and packaging', () => {
  it('a committed public symlink to the data dir, and build-made links out, never reach the blob store', async () => {
    const dir = await nextCheckout(
      `
      fs.symlinkSync(process.env.HOST_DIR + '/secret.key', '.next/static/key.txt');
      fs.symlinkSync(process.env.HOST_DIR, '.next/static/data');
      fs.symlinkSync('chunks/app.js', '.next/static/same.js');
      fs.symlinkSync(process.env.HOST_DIR, '.next/standalone/data');
      `,
      { public: secretDir },
    );
    const result = await build(dir, { HOST_DIR: secretDir });
    assert.ok(result.server !== undefined, 'detected as a Next.js server build');
    const blobsDir = join(tmp.path, `blobs-${++counter}`);
    const blobs = new LocalBlobStore(blobsDir);
    const log = (l: string) => result.lines.push(l);
    const { bundle } = await packageServer({ bundleDir: result.server.bundleDir, entry: result.server.entry, args: result.server.args, blobs, log });
    const { manifest } = await packageOutput({ outputDir: result.outputDir, outputIsRoot: result.outputIsRoot, blobs, log, server: bundle });

    // the pipeline works (so the rest means something): the real static file and the link inside are served
    assert.ok('_next/static/chunks/app.js' in manifest.files, Object.keys(manifest.files).join(', '));
    assert.equal(manifest.files['_next/static/same.js']?.hash, manifest.files['_next/static/chunks/app.js']?.hash);
    assert.ok('server.js' in bundle.files);
    assert.deepEqual(
      Object.keys(manifest.files).filter((k) => /secret|key\.txt|data/.test(k)),
      [],
    );
    assert.deepEqual(
      Object.keys(bundle.files).filter((k) => k.startsWith('data')),
      [],
    );
    assert.equal(bundle.symlinks?.data, undefined);
    assert.deepEqual(await holdingSecret(blobsDir), [], 'no blob holds the secret');
    assert.ok(
      result.lines.some((l) => l.includes('ignored public: the symlink public points outside the project')),
      result.lines.join('\n'),
    );
  });

  it('a build-made .slipway-static link is replaced, never written through', async () => {
    const host = await emptyHostDir();
    const dir = await nextCheckout(`fs.mkdirSync('public'); fs.writeFileSync('public/robots.txt', 'ok'); fs.symlinkSync(process.env.HOST_DIR, '.slipway-static');`);
    const result = await build(dir, { HOST_DIR: host }).catch((err: Error) => err);
    assert.deepEqual(await readdir(host), [], 'nothing was staged into the host folder');
    assert.ok(!(result instanceof Error), String(result));
    assert.equal(await readFile(join(result.outputDir, 'robots.txt'), 'utf8'), 'ok');
    assert.ok(!(await lstat(join(dir, '.slipway-static'))).isSymbolicLink());
  });

  it('a server bundle folder that is a link out of the project is refused, its files never packaged', async () => {
    const dir = await nextCheckout(`fs.rmSync('.next/standalone', { recursive: true }); fs.symlinkSync(process.env.HOST_DIR, '.next/standalone');`);
    await assert.rejects(build(dir, { HOST_DIR: secretDir }), (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.code, 'OUTPUT_NOT_FOUND');
      assert.match(err.message, /server entry \.next\/standalone\/server\.js/);
      return true;
    });
  });
});

describe('framework caches', () => {
  const projectCache = (): BuildCacheOptions => ({ dir: join(tmp.path, `project-cache-${++counter}`) });

  /** a project cache holding a real webpack cache from a first build */
  async function savedCache(): Promise<{ cache: BuildCacheOptions; saved: string }> {
    const cache = projectCache();
    await build(await nextCheckout(`fs.mkdirSync('.next/cache/webpack', { recursive: true }); fs.writeFileSync('.next/cache/webpack/data.bin', 'from A');`), {}, cache);
    const saved = join(cache.dir, 'framework', 'current', '.next', 'cache', 'webpack', 'data.bin');
    assert.equal(await readFile(saved, 'utf8'), 'from A');
    return { cache, saved };
  }

  it('a build-made .next/cache link to a host folder is not saved', async () => {
    const { cache, saved } = await savedCache();
    const host = await emptyHostDir();

    // B: gets A's cache, then swaps .next/cache for a link to a host folder
    const b = await build(await nextCheckout(`fs.rmSync('.next/cache', { recursive: true, force: true }); fs.symlinkSync(process.env.HOST_DIR, '.next/cache');`), { HOST_DIR: host }, cache);
    assert.deepEqual(await readdir(host), [], 'the host folder stays empty after the save');
    assert.equal(await readFile(saved, 'utf8').catch(String), 'from A', "the saved cache is still A's");
    assert.equal(b.cache.frameworkCache, 'hit');
    assert.ok(b.lines.includes('Warning: .next/cache not saved to the cache: .next/cache is a symlink'), b.lines.join('\n'));
  });

  it('a committed .next link to a host folder gets no write when the cache is restored', async () => {
    const { cache } = await savedCache();
    const host = await emptyHostDir();
    const c = await build(await nextCheckout('', { '.next': host }, `fs.unlinkSync('.next');`), {}, cache);
    assert.deepEqual(await readdir(host), [], 'the host folder stays empty after the restore');
    assert.ok(c.lines.includes('Warning: not restoring .next/cache from cache: .next is a symlink'), c.lines.join('\n'));
  });

  it('a cache symlink to a host folder carries none of its files into the next build', async () => {
    const cache = projectCache();
    const first = await build(await nextCheckout(`fs.mkdirSync('node_modules'); fs.symlinkSync(process.env.HOST_DIR, 'node_modules/.cache');`), { HOST_DIR: secretDir }, cache);
    // the next build reports what it finds where the cache would be restored
    const next = await build(
      await nextCheckout(`
        const seen = [];
        for (const dir of ['node_modules/.cache', '.next/cache']) {
          if (!fs.existsSync(dir)) continue;
          for (const name of fs.readdirSync(dir, { recursive: true })) seen.push(dir + '/' + name + ': ' + (fs.statSync(dir + '/' + name).isFile() ? fs.readFileSync(dir + '/' + name, 'utf8') : ''));
        }
        fs.writeFileSync('.next/static/seen.txt', seen.join('\\n'));
      `),
      {},
      cache,
    );
    assert.equal(await readFile(join(next.outputDir, '_next', 'static', 'seen.txt'), 'utf8'), '');
    assert.deepEqual(await holdingSecret(cache.dir), []);
    assert.ok(first.lines.includes('Warning: node_modules/.cache not saved to the cache: node_modules/.cache is a symlink'), first.lines.join('\n'));
  });
});

describe('dependency trees', () => {
  const quiet = () => undefined;

  it('a node_modules that is a link to a host folder is not cached', async () => {
    const root = join(tmp.path, `checkout-${++counter}`);
    await mkdir(root);
    await symlink(secretDir, join(root, 'node_modules'));
    const lines: string[] = [];
    const cache = await openProjectCache({ dir: join(tmp.path, `deps-cache-${++counter}`) }, root);
    await saveDependencies(cache, 'k', root, 'npm', (l) => lines.push(l));
    assert.deepEqual(await holdingSecret(cache.dir), []);
    assert.deepEqual(await readdir(join(cache.dir, 'deps')), []);
    assert.deepEqual(lines, ['Warning: node_modules not saved to the cache: node_modules is a symlink']);
  });

  it('keeps links that stay in the checkout (rewritten relative), drops the ones that leave it', async () => {
    const root = join(tmp.path, `checkout-${++counter}`);
    const nm = join(root, 'node_modules');
    await mkdir(join(nm, 'pkg'), { recursive: true });
    await mkdir(join(nm, '.bin'));
    await mkdir(join(root, 'packages', 'ui'), { recursive: true });
    await writeFile(join(nm, 'pkg', 'bin.js'), 'bin');
    const links: Record<string, string> = {
      '.bin/tool': '../pkg/bin.js', // npm's bins
      ws: '../packages/ui', // a workspace package, outside node_modules but inside the checkout
      abs: join(nm, 'pkg'), // an absolute link inside: only valid once made relative
      escape: secretDir,
      up: '../..',
      trick: 'pkg/../../../data/secret.key',
    };
    for (const [path, target] of Object.entries(links)) await symlink(target, join(nm, path));
    const lines: string[] = [];
    const cache = await openProjectCache({ dir: join(tmp.path, `deps-cache-${++counter}`) }, root);
    await saveDependencies(cache, 'k', root, 'npm', (l) => lines.push(l));
    assert.ok(
      lines.some((l) => /^Warning: left out node_modules\/\S+ \(and 2 more\) from the cache: a symlink pointing outside the project$/.test(l)),
      lines.join('\n'),
    );

    const other = join(tmp.path, `checkout-${++counter}`);
    await mkdir(other);
    assert.ok((await restoreDependencies(cache, 'k', other, quiet)) !== undefined);
    const restored = join(other, 'node_modules');
    assert.equal(await readlink(join(restored, '.bin', 'tool')), '../pkg/bin.js');
    assert.equal(await readlink(join(restored, 'ws')), '../packages/ui');
    assert.equal(await readlink(join(restored, 'abs')), 'pkg');
    assert.equal(await readFile(join(restored, '.bin', 'tool'), 'utf8'), 'bin');
    for (const gone of ['escape', 'up', 'trick']) await assert.rejects(lstat(join(restored, gone)), { code: 'ENOENT' });
  });
});

describe('checkout files read before the build', () => {
  it('a committed package.json or lockfile linking out of the project is not read', async () => {
    const hostJson = join(tmp.path, `host-${++counter}.json`);
    await writeFile(hostJson, JSON.stringify({ packageManager: `yarn@1.${secret}`, scripts: { build: `echo ${secret}` } }));
    const dir = join(tmp.path, `src-${++counter}`);
    await mkdir(dir);
    await writeFile(join(dir, 'index.html'), '<h1>hi</h1>');
    await symlink(hostJson, join(dir, 'package.json'));
    await symlink(hostJson, join(dir, 'package-lock.json'));
    const lines: string[] = [];
    const result = await runBuild({
      sourceDir: dir,
      settings: {},
      env: {},
      timeoutMs: 30_000,
      log: (l) => lines.push(l),
      cacheDir: join(tmp.path, `pm-cache-${++counter}`),
      hiddenPaths: [],
      cache: { dir: join(tmp.path, `project-cache-${++counter}`) },
    });
    assert.deepEqual(
      lines.filter((l) => l.includes(secret)),
      [],
    );
    assert.equal(result.packageManager, 'none');
    assert.ok(lines.includes('No package.json found: nothing to install'), lines.join('\n'));
  });
});
