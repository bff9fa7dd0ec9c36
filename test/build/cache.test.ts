import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, cp, lstat, mkdir, readdir, readFile, readlink, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runBuild, type BuildCacheOptions, type BuildRequest, type BuildResult } from '../../src/build/index.js';
import { evict, openProjectCache, saveDependencies } from '../../src/build/cache.js';
import { fixturesDir, tempDir } from '../helpers/paths.js';

// Real npm and pnpm installs from the registry; the package managers' download cache is shared
// by all tests (as on a worker), each test has its own project cache.
let tmp: Awaited<ReturnType<typeof tempDir>>;
let cacheDir: string;
let counter = 0;

before(async () => {
  tmp = await tempDir('slipway-cache-');
  cacheDir = join(tmp.path, 'pm-cache');
});
after(() => tmp.cleanup());

async function source(fixture: string): Promise<string> {
  const dir = join(tmp.path, `src-${++counter}`);
  await cp(join(fixturesDir, fixture), dir, { recursive: true });
  return dir;
}

function projectCache(options: Partial<BuildCacheOptions> = {}): BuildCacheOptions {
  return { dir: join(tmp.path, `project-cache-${++counter}`), ...options };
}

async function build(sourceDir: string, cache: BuildCacheOptions | undefined, extra: Partial<BuildRequest> = {}): Promise<BuildResult & { lines: string[] }> {
  const lines: string[] = [];
  const result = await runBuild({ sourceDir, settings: {}, env: {}, timeoutMs: 180_000, log: (l) => lines.push(l), cacheDir, hiddenPaths: [], cache, ...extra });
  return { ...result, lines };
}

const entries = (cache: BuildCacheOptions) => readdir(join(cache.dir, 'deps'));
const html = (result: BuildResult) => readFile(join(result.outputDir, 'index.html'), 'utf8');

describe('dependency cache (npm)', () => {
  let cache: BuildCacheOptions;
  let first: BuildResult & { lines: string[] };
  let second: BuildResult & { lines: string[] };
  let secondDir: string;

  before(async () => {
    cache = projectCache();
    first = await build(await source('cache-npm'), cache);
    secondDir = await source('cache-npm');
    second = await build(secondDir, cache);
  });

  it('misses on the first build, installs, and saves node_modules under the key', async () => {
    assert.equal(first.cache.dependencies, 'miss');
    assert.match(first.cache.key ?? '', /^[0-9a-f]{64}$/);
    assert.equal(typeof first.cache.saveMs, 'number');
    assert.ok(first.lines.includes('Running "npm ci"'), first.lines.join('\n'));
    assert.ok(
      first.lines.some((l) => /^Saved node_modules to the cache \(key [0-9a-f]{12}…, \d+ files, /.test(l)),
      first.lines.join('\n'),
    );
    assert.deepEqual(await entries(cache), [first.cache.key]);
    assert.equal(await html(first), '<h1>isNumber(5)=true; semver=1.2.3,2.0.0; builds=1</h1>');
  });

  it('hits on the second build: no install, node_modules restored, the build (and a bin) works', async () => {
    assert.equal(second.cache.dependencies, 'hit');
    assert.equal(second.cache.key, first.cache.key);
    assert.equal(typeof second.cache.restoreMs, 'number');
    assert.equal(second.cache.saveMs, undefined);
    assert.ok(!second.lines.some((l) => l.includes('npm ci')), second.lines.join('\n'));
    assert.ok(
      second.lines.some((l) => /^Restored node_modules from cache \(key [0-9a-f]{12}…, \d+ files, (hard links|clones)\) in \d+\.\ds$/.test(l)),
      second.lines.join('\n'),
    );
    assert.match(await html(second), /isNumber\(5\)=true; semver=1\.2\.3,2\.0\.0/);
    assert.ok((await lstat(join(secondDir, 'node_modules', '.bin', 'semver'))).isSymbolicLink(), 'bins stay symlinks');
    assert.equal(await readlink(join(secondDir, 'node_modules', '.bin', 'semver')), '../semver/bin/semver.js');
  });

  it('restores by hard link: the checkout and the cache share inodes', async () => {
    const inCache = await stat(join(cache.dir, 'deps', first.cache.key ?? '', 'node_modules', 'is-number', 'index.js'));
    const inCheckout = await stat(join(secondDir, 'node_modules', 'is-number', 'index.js'));
    assert.equal(inCheckout.ino, inCache.ino);
    assert.ok(inCheckout.nlink >= 3, `nlink ${inCheckout.nlink}: first checkout, cache, second checkout`);
    // npm's bookkeeping file is copied, not linked: a later `npm install` rewrites it in place
    const lock = await stat(join(secondDir, 'node_modules', '.package-lock.json'));
    assert.equal(lock.nlink, 1);
  });

  it('keeps node_modules/.cache out of the dependency entry: a build writing it leaves the cache alone', async () => {
    const entry = join(cache.dir, 'deps', first.cache.key ?? '', 'node_modules');
    await assert.rejects(stat(join(entry, '.cache')), 'not saved with the dependencies');
    const written = await stat(join(secondDir, 'node_modules', '.cache', 'tool', 'last-build.txt'));
    assert.equal(written.nlink, 1, 'a real file in a real folder');
  });

  it('restores the framework cache (.next/cache) by copy, and saves the new one', async () => {
    assert.equal(first.cache.frameworkCache, 'miss');
    assert.equal(second.cache.frameworkCache, 'hit');
    assert.match(await html(second), /builds=2<\/h1>$/, "the second build read the first build's .next/cache");
    assert.ok(
      second.lines.some((l) => /^Restored \.next\/cache, node_modules\/\.cache from cache in \d+\.\ds$/.test(l)),
      second.lines.join('\n'),
    );
    assert.equal((await stat(join(secondDir, '.next', 'cache', 'builds.txt'))).nlink, 1, 'copied, not linked');
    assert.equal(await readFile(join(cache.dir, 'framework', 'current', '.next', 'cache', 'builds.txt'), 'utf8'), '2');
  });

  it('discards an entry that a build wrote into in place, and installs afresh', async (t) => {
    if (process.getuid?.() === 0) {
      // as root, builds run as the sandbox's uid, and cached files are root's and read-only:
      // the write in place cannot happen at all (test/security/shared-caches.test.ts shows it)
      t.skip('root: a build cannot write a cached file in place; the mtime check is for non-root workers');
      return;
    }
    // the hazard of hard links: this write lands in the cached copy too
    await appendFile(join(secondDir, 'node_modules', 'is-number', 'index.js'), '\n// patched in place\n');
    const third = await build(await source('cache-npm'), cache);
    assert.equal(third.cache.dependencies, 'miss');
    assert.ok(
      third.lines.some((l) => l.startsWith('Warning: the cached node_modules (key ') && l.includes('was modified after it was saved')),
      third.lines.join('\n'),
    );
    assert.ok(third.lines.includes('Running "npm ci"'));
    assert.ok(!(await readFile(join(third.outputDir, '..', 'node_modules', 'is-number', 'index.js'), 'utf8')).includes('patched'));
    assert.deepEqual(await entries(cache), [third.cache.key], 'a fresh entry replaced the tainted one');
    const fourth = await build(await source('cache-npm'), cache);
    assert.equal(fourth.cache.dependencies, 'hit');
  });

  it('misses when the lockfile changes, and keeps at most maxEntries', async () => {
    const small = projectCache({ maxEntries: 1 });
    const a = await build(await source('cache-npm'), small);
    const changed = await source('cache-npm');
    const lock = JSON.parse(await readFile(join(changed, 'package-lock.json'), 'utf8')) as unknown;
    await writeFile(join(changed, 'package-lock.json'), JSON.stringify(lock, null, 4));
    const b = await build(changed, small);
    assert.equal(b.cache.dependencies, 'miss');
    assert.notEqual(b.cache.key, a.cache.key);
    assert.ok(
      b.lines.some((l) => l.startsWith('Dependency cache: evicted 1 older entry')),
      b.lines.join('\n'),
    );
    assert.deepEqual(await entries(small), [b.cache.key]);
  });

  it('two concurrent builds with the same key both succeed and leave one whole entry', async () => {
    const shared = projectCache();
    const [a, b] = await Promise.all([build(await source('cache-npm'), shared), build(await source('cache-npm'), shared)]);
    assert.equal(a.cache.key, b.cache.key);
    assert.match(await html(a), /isNumber\(5\)=true/);
    assert.match(await html(b), /isNumber\(5\)=true/);
    assert.deepEqual(await entries(shared), [a.cache.key]);
    assert.deepEqual(await readdir(join(shared.dir, 'tmp')), [], 'no half-written entry left behind');
    const c = await build(await source('cache-npm'), shared);
    assert.equal(c.cache.dependencies, 'hit');
  });

  it('a custom installCommand is part of the key: same command hits and is skipped, another misses', async () => {
    const own = projectCache();
    const settings = { installCommand: 'npm ci --no-audit' };
    const a = await build(await source('cache-npm'), own, { settings });
    assert.equal(a.cache.dependencies, 'miss');
    assert.ok(a.lines.includes('Running "npm ci --no-audit"'));
    const b = await build(await source('cache-npm'), own, { settings });
    assert.equal(b.cache.dependencies, 'hit');
    assert.ok(!b.lines.includes('Running "npm ci --no-audit"'), b.lines.join('\n'));
    const c = await build(await source('cache-npm'), own, { settings: { installCommand: 'npm install' } });
    assert.equal(c.cache.dependencies, 'miss');
    assert.ok(c.lines.includes('Running "npm install"'));
  });

  it('is disabled without a cache, and without a lockfile', async () => {
    const none = await build(await source('cache-npm'), undefined);
    assert.deepEqual(none.cache, { dependencies: 'disabled' });
    const unlocked = await source('build-failing');
    await writeFile(join(unlocked, 'package.json'), '{"scripts":{"build":"mkdir -p dist && echo ok > dist/index.html"}}');
    const result = await build(unlocked, projectCache());
    assert.equal(result.cache.dependencies, 'disabled');
    assert.ok(
      result.lines.some((l) => l.startsWith('Dependency cache off: no lockfile')),
      result.lines.join('\n'),
    );
  });

  it('the sandboxed build cannot see the project cache, even inside the shared cache dir', async (t) => {
    const inside = projectCache({ dir: join(cacheDir, 'projects', 'p1') });
    await build(await source('cache-npm'), inside);
    const dir = await source('cache-npm');
    const result = await build(dir, inside, { settings: { buildCommand: `node build.js && (ls -A ${inside.dir} | wc -l) > dist/visible.txt` } });
    if (result.lines.some((l) => l.startsWith('Warning: sandbox unavailable'))) {
      t.skip('bwrap does not work on this machine');
      return;
    }
    assert.equal(result.cache.dependencies, 'hit');
    assert.equal((await readFile(join(result.outputDir, 'visible.txt'), 'utf8')).trim(), '0');
    assert.ok((await readdir(inside.dir)).includes('deps'), 'the worker sees it');
  });
});

describe('dependency cache (pnpm)', () => {
  it("a hit keeps pnpm's symlinks into .pnpm working", async () => {
    const cache = projectCache();
    const first = await build(await source('build-pnpm'), cache);
    assert.equal(first.cache.dependencies, 'miss');
    const dir = await source('build-pnpm');
    const second = await build(dir, cache);
    assert.equal(second.cache.dependencies, 'hit', [...first.lines, '----', ...second.lines].join('\n'));
    assert.ok(!second.lines.some((l) => l.includes('pnpm install')), second.lines.join('\n'));
    const link = join(dir, 'node_modules', 'is-number');
    assert.ok((await lstat(link)).isSymbolicLink());
    assert.match(await readlink(link), /^\.pnpm\//, 'relative, so valid in any checkout');
    assert.match(await html(second), /isNumber\(5\)=true/);
  });
});

describe('eviction', () => {
  /** a fake checkout whose node_modules holds one file of `size` bytes */
  async function tree(size: number): Promise<string> {
    const root = join(tmp.path, `tree-${++counter}`);
    await mkdir(join(root, 'node_modules', 'pkg'), { recursive: true });
    await writeFile(join(root, 'node_modules', 'pkg', 'data.bin'), Buffer.alloc(size));
    return root;
  }
  const quiet = () => undefined;

  it('keeps the newest N entries by last use', async () => {
    const root = await tree(10);
    const cache = await openProjectCache({ dir: join(tmp.path, `evict-${++counter}`), maxEntries: 2 }, root);
    for (const [i, key] of ['k1', 'k2', 'k3'].entries()) {
      await saveDependencies(cache, key, root, 'npm', quiet);
      const when = new Date(Date.now() - (10 - i) * 60_000);
      await utimes(join(cache.dir, 'deps', key, 'used'), when, when);
    }
    // k1 was used most recently after all
    await utimes(join(cache.dir, 'deps', 'k1', 'used'), new Date(), new Date());
    assert.deepEqual(await evict(cache, 'k1', quiet), ['k2']);
    assert.deepEqual((await readdir(join(cache.dir, 'deps'))).sort(), ['k1', 'k3']);
  });

  it('keeps the total under maxBytes, least recently used first, never the current key; hard links count once', async () => {
    const root = await tree(100_000);
    // a second name for the same file must not double its size
    await cp(join(root, 'node_modules', 'pkg'), join(root, 'node_modules', 'pkg2'), { recursive: true });
    const { link, rm } = await import('node:fs/promises');
    await rm(join(root, 'node_modules', 'pkg2', 'data.bin'));
    await link(join(root, 'node_modules', 'pkg', 'data.bin'), join(root, 'node_modules', 'pkg2', 'data.bin'));
    const cache = await openProjectCache({ dir: join(tmp.path, `evict-${++counter}`), maxBytes: 250_000, maxEntries: 10 }, root);
    for (const [i, key] of ['a', 'b', 'c'].entries()) {
      await saveDependencies(cache, key, root, 'npm', quiet);
      const when = new Date(Date.now() - (10 - i) * 60_000);
      await utimes(join(cache.dir, 'deps', key, 'used'), when, when);
    }
    const info = JSON.parse(await readFile(join(cache.dir, 'deps', 'a', 'entry.json'), 'utf8')) as { bytes: number; files: number };
    assert.deepEqual([info.bytes, info.files], [100_000, 2]);
    // 'a' is the oldest but the current build's: it stays; then c (newest) fits, b does not
    assert.deepEqual(await evict(cache, 'a', quiet), ['b']);
    assert.deepEqual((await readdir(join(cache.dir, 'deps'))).sort(), ['a', 'c']);
  });
});
