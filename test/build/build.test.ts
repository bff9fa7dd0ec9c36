import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { detectProject, runBuild, type BuildRequest, type BuildResult } from '../../src/build/index.js';
import { AppError } from '../../src/errors/index.js';
import { fixturesDir, tempDir } from '../helpers/paths.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let cacheDir: string;
let counter = 0;

before(async () => {
  tmp = await tempDir('slipway-build-');
  cacheDir = join(tmp.path, 'cache');
});
after(() => tmp.cleanup());

/** A fresh source dir, from a fixture or from files. */
async function source(from: string | Record<string, string>): Promise<string> {
  const dir = join(tmp.path, `src-${++counter}`);
  if (typeof from === 'string') await cp(join(fixturesDir, from), dir, { recursive: true });
  else {
    await mkdir(dir, { recursive: true });
    for (const [path, content] of Object.entries(from)) {
      await mkdir(join(dir, path, '..'), { recursive: true });
      await writeFile(join(dir, path), content);
    }
  }
  return dir;
}

async function build(sourceDir: string, extra: Partial<BuildRequest> = {}): Promise<BuildResult & { lines: string[] }> {
  const lines: string[] = [];
  const result = await runBuild({ sourceDir, settings: {}, env: {}, timeoutMs: 120_000, log: (l) => lines.push(l), cacheDir, hiddenPaths: [], ...extra });
  return { ...result, lines };
}

function isBuildError(code: string, pattern?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (pattern !== undefined) assert.match(err.message, pattern);
    return true;
  };
}

/** pids of live processes whose command line contains `marker` */
async function processesWith(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(marker)) found.push(Number(name));
  }
  return found;
}

describe('detection table', () => {
  const cases: [string, Record<string, string>, { pm: string; install?: string[] }][] = [
    ['npm lockfile', { 'package.json': '{}', 'package-lock.json': '{}' }, { pm: 'npm', install: ['npm', 'ci'] }],
    ['npm shrinkwrap', { 'package.json': '{}', 'npm-shrinkwrap.json': '{}' }, { pm: 'npm', install: ['npm', 'ci'] }],
    ['pnpm', { 'package.json': '{}', 'pnpm-lock.yaml': "lockfileVersion: '9.0'" }, { pm: 'pnpm', install: ['corepack', 'pnpm@9', 'install', '--frozen-lockfile'] }],
    ['yarn classic', { 'package.json': '{}', 'yarn.lock': '# yarn lockfile v1\n' }, { pm: 'yarn', install: ['corepack', 'yarn@1', 'install', '--frozen-lockfile'] }],
    ['yarn berry (lockfile)', { 'package.json': '{}', 'yarn.lock': '__metadata:\n  version: 8\n' }, { pm: 'yarn', install: ['corepack', 'yarn@4.13', 'install', '--immutable'] }],
    ['yarn berry (packageManager)', { 'package.json': '{"packageManager":"yarn@4.5.0"}', 'yarn.lock': '' }, { pm: 'yarn', install: ['corepack', 'yarn@4.5.0', 'install', '--immutable'] }],
    ['package.json only', { 'package.json': '{}' }, { pm: 'npm', install: ['npm', 'install'] }],
    ['packageManager field, no lockfile', { 'package.json': '{"packageManager":"pnpm@9.15.0"}' }, { pm: 'pnpm', install: ['corepack', 'pnpm@9.15.0', 'install'] }],
    ['no package.json', { 'index.html': 'hi' }, { pm: 'none' }],
  ];
  for (const [name, files, expected] of cases) {
    it(name, async () => {
      const detected = await detectProject(await source(files));
      assert.equal(detected.packageManager, expected.pm);
      assert.deepEqual(detected.install, expected.install);
    });
  }

  it('lockfile order: npm wins over yarn', async () => {
    const detected = await detectProject(await source({ 'package.json': '{}', 'package-lock.json': '{}', 'yarn.lock': '' }));
    assert.equal(detected.packageManager, 'npm');
  });

  it('sees a build script', async () => {
    assert.equal((await detectProject(await source({ 'package.json': '{"scripts":{"build":"vite build"}}' }))).hasBuildScript, true);
    assert.equal((await detectProject(await source({ 'package.json': '{"scripts":{"dev":"vite"}}' }))).hasBuildScript, false);
  });
});

describe('runBuild', () => {
  it('builds a static site with a real npm script into dist/', async () => {
    const dir = await source('build-static');
    const result = await build(dir);
    assert.equal(result.packageManager, 'npm');
    assert.equal(result.outputDir, join(dir, 'dist'));
    assert.equal(result.outputIsRoot, false);
    assert.match(await readFile(join(dir, 'dist', 'about.html'), 'utf8'), /<h1>About<\/h1>/);
    const lines = result.lines;
    assert.ok(
      lines.some((l) => /^Detected npm \d+\.\d+\.\d+ from package-lock\.json$/.test(l)),
      lines.join('\n'),
    );
    assert.ok(lines.includes('Running "npm ci"'));
    assert.ok(lines.includes('Running "npm run build"'));
    assert.ok(lines.includes('built pages: about.html, index.html'), 'stdout streamed');
    assert.ok(lines.includes('a line on stderr'), 'stderr streamed');
    assert.ok(lines.some((l) => /^Build finished in \d+\.\d+s$/.test(l)));
    assert.ok(lines.includes('Output: dist (4 files)'), lines.join('\n'));
  });

  it('gives the build a clean environment without the platform secrets', async () => {
    process.env.SLIPWAY_ADMIN_TOKEN = 'admin-secret-123';
    process.env.DATABASE_URL = 'postgres://user:pw@db/slipway';
    try {
      const dir = await source('build-static');
      await build(dir, { env: { MY_SITE_KEY: 'project-value' } });
      const env = JSON.parse(await readFile(join(dir, 'dist', 'env.json'), 'utf8')) as Record<string, string>;
      assert.equal(env.SLIPWAY_ADMIN_TOKEN, undefined);
      assert.equal(env.DATABASE_URL, undefined);
      assert.ok(!JSON.stringify(env).includes('admin-secret-123'));
      assert.equal(env.MY_SITE_KEY, 'project-value');
      assert.equal(env.CI, '1');
      assert.ok(env.npm_config_cache?.startsWith(cacheDir), env.npm_config_cache);
      assert.ok(env.HOME !== undefined && env.HOME !== process.env.HOME && env.HOME.includes('slipway-build-'));
      await assert.rejects(stat(env.HOME), 'the temp home is removed after the build');
    } finally {
      delete process.env.SLIPWAY_ADMIN_TOKEN;
      delete process.env.DATABASE_URL;
    }
  });

  it('falls back to npm install when the lockfile is out of sync, with a warning', async () => {
    const dir = await source('build-out-of-sync');
    const { lines, outputDir } = await build(dir);
    assert.ok(
      lines.some((l) => l.startsWith('Warning: package-lock.json is out of sync')),
      lines.join('\n'),
    );
    assert.ok(lines.includes('Running "npm install"'));
    assert.equal(await readFile(join(outputDir, 'index.html'), 'utf8'), '<h1>from local-lib</h1>');
  });

  it('reports a failing build as BUILD_FAILED with the last log lines', async () => {
    const dir = await source('build-failing');
    await assert.rejects(build(dir), (err: unknown) => {
      isBuildError('BUILD_FAILED', /^Command "npm run build" exited with code 1\n/)(err);
      const message = (err as Error).message;
      assert.match(message, /Error: something broke in the build/);
      assert.match(message, /step 30/);
      assert.doesNotMatch(message, /step 5\n/, 'only the tail, not the whole log');
      return true;
    });
  });

  it('serves a plain HTML site from the root without installing', async () => {
    const dir = await source({ 'index.html': '<h1>plain</h1>', 'css/site.css': 'body{}' });
    const result = await build(dir);
    assert.equal(result.packageManager, 'none');
    assert.equal(result.outputDir, dir);
    assert.equal(result.outputIsRoot, true);
    assert.ok(!result.lines.some((l) => l.startsWith('Running')));
    assert.ok(result.lines.includes('Output: the root directory (2 files)'), result.lines.join('\n'));
  });

  it('picks the output dir in the order dist, build, out, public', async () => {
    const dir = await source({ 'public/a.html': 'a', 'out/a.html': 'a' });
    assert.equal((await build(dir)).outputDir, join(dir, 'out'));
    await mkdir(join(dir, 'build'));
    assert.equal((await build(dir)).outputDir, join(dir, 'build'));
    await mkdir(join(dir, 'dist'));
    assert.equal((await build(dir)).outputDir, join(dir, 'dist'));
  });

  it('honours project overrides: root directory, install, build and output', async () => {
    const dir = await source({ 'apps/web/page.html': 'x' });
    const result = await build(dir, {
      settings: { rootDirectory: 'apps/web', installCommand: 'echo installing > installed.txt', buildCommand: 'mkdir -p site && cp page.html installed.txt site/', outputDirectory: 'site' },
    });
    assert.equal(result.outputDir, join(dir, 'apps', 'web', 'site'));
    assert.equal(await readFile(join(result.outputDir, 'installed.txt'), 'utf8'), 'installing\n');
    assert.ok(result.lines.includes('Running "echo installing > installed.txt"'));
  });

  it('rejects a missing output directory override with a hint', async () => {
    const dir = await source({ 'index.html': 'x' });
    await assert.rejects(build(dir, { settings: { outputDirectory: 'dist' } }), (err: unknown) => {
      isBuildError('OUTPUT_NOT_FOUND', /"dist"/)(err);
      assert.match((err as AppError).hint ?? '', /outputDirectory/);
      return true;
    });
  });

  it('never leaves the source dir', async () => {
    const dir = await source({ 'index.html': 'x' });
    await assert.rejects(build(dir, { settings: { outputDirectory: '../' } }), isBuildError('VALIDATION'));
    await assert.rejects(build(dir, { settings: { outputDirectory: '/etc' } }), isBuildError('VALIDATION'));
    await assert.rejects(build(dir, { settings: { rootDirectory: 'a/../../b' } }), isBuildError('VALIDATION'));
    await symlink('/etc', join(dir, 'escape'));
    await assert.rejects(build(dir, { settings: { outputDirectory: 'escape' } }), isBuildError('OUTPUT_NOT_FOUND', /outside/));
    await assert.rejects(build(dir, { settings: { rootDirectory: 'escape' } }), isBuildError('BUILD_FAILED'));
  });

  it('splits output on \\n and \\r and caps long lines', async () => {
    const dir = await source({ 'index.html': 'x' });
    const { lines } = await build(dir, { settings: { outputDirectory: '.', buildCommand: `printf 'one\\rtwo\\r\\nthree\\nfour\\n'; node -e "console.log('x'.repeat(10000))"` } });
    const start = lines.indexOf(`Running "printf 'one\\rtwo\\r\\nthree\\nfour\\n'; node -e "console.log('x'.repeat(10000))""`);
    assert.deepEqual(lines.slice(start + 1, start + 5), ['one', 'two', 'three', 'four']);
    const long = lines.find((l) => l.startsWith('xxxx'));
    assert.ok(long !== undefined && long.length > 4000 && long.length < 4200, String(long?.length));
  });

  for (const sandbox of [true, false]) {
    it(`times out a sleeping build and kills its whole process tree (sandbox ${sandbox ? 'on' : 'off'})`, async () => {
      const marker = `${3000 + counter}.${Date.now() % 100000}`;
      const dir = await source({ 'index.html': 'x' });
      const started = Date.now();
      await assert.rejects(
        build(dir, { sandbox, timeoutMs: 1500, settings: { buildCommand: `sleep ${marker} & (sleep ${marker}; echo never) & sleep ${marker}` } }),
        isBuildError('BUILD_TIMEOUT', /did not finish within 1\.5s/),
      );
      assert.ok(Date.now() - started < 8000, 'stopped promptly');
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(await processesWith(`sleep\0${marker}`), [], 'no process survives');
    });
  }

  for (const sandbox of [true, false]) {
    it(`a build does not outlive its timeout even when the worker is SIGKILLed (sandbox ${sandbox ? 'on' : 'off'})`, async () => {
      const marker = `${5000 + counter}.${Date.now() % 100000}`;
      const dir = await source({ 'index.html': 'x' });
      const buildModule = new URL('../../src/build/index.js', import.meta.url).href;
      const script = `
        const { runBuild } = await import(${JSON.stringify(buildModule)});
        await runBuild({ sourceDir: ${JSON.stringify(dir)}, settings: { buildCommand: 'sleep ${marker} & sleep ${marker}' }, env: {}, timeoutMs: 2000,
          log: (l) => console.log(l), cacheDir: ${JSON.stringify(cacheDir)}, hiddenPaths: [], sandbox: ${sandbox} });`;
      const { spawn } = await import('node:child_process');
      // the killed worker cannot remove its build area: keep it inside our temp dir
      const workerTmp = join(tmp.path, `worker-tmp-${counter}`);
      await mkdir(workerTmp);
      const worker = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TMPDIR: workerTmp } });
      await new Promise<void>((resolve) => worker.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('Running') && resolve()));
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.ok((await processesWith(`sleep\0${marker}`)).length > 0, 'the build is running');
      worker.kill('SIGKILL');
      const killedAt = Date.now();
      while ((await processesWith(`sleep\0${marker}`)).length > 0 && Date.now() - killedAt < 15_000) await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(await processesWith(`sleep\0${marker}`), [], 'gone shortly after the 2s timeout');
    });
  }

  it('stops when the signal aborts, and kills the tree', async () => {
    const marker = `${4000 + counter}.${Date.now() % 100000}`;
    const dir = await source({ 'index.html': 'x' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('superseded by a newer push')), 500);
    await assert.rejects(build(dir, { signal: controller.signal, settings: { buildCommand: `sleep ${marker} & sleep ${marker}` } }), /superseded/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(await processesWith(`sleep\0${marker}`), []);
  });
});

describe('sandbox', () => {
  let hidden: string;
  before(async () => {
    // outside /tmp, which the sandbox replaces anyway, so the hiding itself is what is tested
    hidden = await mkdtemp('/var/tmp/slipway-hidden-');
    await writeFile(join(hidden, 'secret.key'), 'top-secret');
    await writeFile(join(hidden, 'db.sqlite'), 'rows');
  });
  after(() => rm(hidden, { recursive: true, force: true }));

  it('hides the platform data dir from the build, while source and cache inside it stay writable', async (t) => {
    const dir = join(hidden, 'builds', '1', 'src');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'index.html'), 'x');
    const lines: string[] = [];
    const result = await runBuild({
      sourceDir: dir,
      settings: { outputDirectory: '.', buildCommand: `(cat ${hidden}/secret.key || echo unreadable) > result.txt; ls ${hidden} > listing.txt; echo ok > ${hidden}/builds/cache/written.txt` },
      env: {},
      timeoutMs: 30_000,
      log: (l) => lines.push(l),
      cacheDir: join(hidden, 'builds', 'cache'),
      hiddenPaths: [hidden],
    });
    if (lines.some((l) => l.startsWith('Warning: sandbox unavailable'))) {
      t.skip('bwrap does not work on this machine');
      return;
    }
    assert.equal(await readFile(join(result.outputDir, 'result.txt'), 'utf8'), 'unreadable\n');
    assert.equal(await readFile(join(result.outputDir, 'listing.txt'), 'utf8'), 'builds\n', 'only the bound build folder is visible');
    assert.equal(await readFile(join(hidden, 'builds', 'cache', 'written.txt'), 'utf8'), 'ok\n');
  });

  it('hides single files and keeps the rest of the system read-only', async (t) => {
    const dir = await source({ 'index.html': 'x' });
    const outside = await mkdtemp('/var/tmp/slipway-outside-');
    t.after(() => rm(outside, { recursive: true, force: true }));
    const lines: string[] = [];
    await runBuild({
      sourceDir: dir,
      settings: { outputDirectory: '.', buildCommand: `echo "[$(cat ${hidden}/secret.key)]" > key.txt; (touch ${outside}/x && echo writable || echo read-only) > outside.txt` },
      env: {},
      timeoutMs: 30_000,
      log: (l) => lines.push(l),
      cacheDir,
      hiddenPaths: [join(hidden, 'secret.key')],
    });
    if (lines.some((l) => l.startsWith('Warning: sandbox unavailable'))) {
      t.skip('bwrap does not work on this machine');
      return;
    }
    assert.equal(await readFile(join(dir, 'key.txt'), 'utf8'), '[]\n');
    assert.equal(await readFile(join(dir, 'outside.txt'), 'utf8'), 'read-only\n');
  });

  it('without the sandbox the same file is readable (so the test above means something)', async () => {
    const dir = await source({ 'index.html': 'x' });
    await build(dir, { sandbox: false, hiddenPaths: [hidden], settings: { outputDirectory: '.', buildCommand: `cat ${hidden}/secret.key > key.txt` } });
    assert.equal(await readFile(join(dir, 'key.txt'), 'utf8'), 'top-secret');
  });
});
