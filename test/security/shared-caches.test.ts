import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, lstat, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runBuild } from '../../src/build/index.js';
import { openProjectCache, restoreDependencies, restoreFrameworkCache, saveDependencies, saveFrameworkCache, type ProjectCache } from '../../src/build/cache.js';
import { packageCacheDir } from '../../src/worker/index.js';
import { tempDir } from '../helpers/paths.js';

// Nothing a build can write is shared with another project's builds, and what a build gets
// from the cache cannot be changed in place to affect a later build.
const run = promisify(execFile);
const BUILD_USER = { uid: 64100, gid: 64100 };
const isRoot = process.getuid?.() === 0;

let tmp: Awaited<ReturnType<typeof tempDir>>;
let counter = 0;
before(async () => {
  tmp = await tempDir('slipway-shared-');
  // the build user must be able to reach the checkouts below, as under the worker's build folder
  await chmod(tmp.path, 0o755);
});
after(() => tmp.cleanup());

/** a folder with files (path -> content), traversable by the build user */
async function tree(files: Record<string, string>): Promise<string> {
  const root = join(tmp.path, `t${++counter}`);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true, mode: 0o755 });
    await writeFile(join(root, path), content);
  }
  await mkdir(root, { recursive: true, mode: 0o755 });
  return root;
}

/** run `script` with node as the build user in `cwd`; it prints JSON */
async function asBuildUser(cwd: string, script: string): Promise<Record<string, string>> {
  const { stdout } = await run(process.execPath, ['-e', script], { cwd, uid: BUILD_USER.uid, gid: BUILD_USER.gid, env: { PATH: '/usr/bin:/bin' }, timeout: 20_000 });
  return JSON.parse(stdout) as Record<string, string>;
}

/** tries each write and reports 'ok' or the error code */
const TRY = `const fs = require('fs'); const out = {}; const t = (name, f) => { try { f(); out[name] = 'ok'; } catch (e) { out[name] = e.code; } };`;

describe('restored dependency trees are read-only for the build user', { skip: !isRoot && 'needs root (to chown and to run as another uid)' }, () => {
  let cache: ProjectCache;
  let entry: string;
  let restored: string;

  before(async () => {
    const first = await tree({
      'node_modules/pkg/index.js': 'original',
      'node_modules/pkg/bin.js': '#!/usr/bin/env node\n',
      'node_modules/.package-lock.json': '{}',
      '.next/cache/webpack/pack.bin': 'webpack',
    });
    await chmod(join(first, 'node_modules/pkg/bin.js'), 0o755);
    // as the install left them: written by the build user
    await run('chown', ['-R', `${BUILD_USER.uid}:${BUILD_USER.gid}`, first]);
    cache = await openProjectCache({ dir: join(tmp.path, 'project-cache') }, first);
    assert.equal(typeof (await saveDependencies(cache, 'k', first, 'npm', () => undefined)), 'number');
    assert.ok(await saveFrameworkCache(cache, first, () => undefined));
    entry = join(cache.dir, 'deps', 'k', 'node_modules');
    restored = await tree({});
    assert.ok((await restoreDependencies(cache, 'k', restored, () => undefined, { owner: BUILD_USER })) !== undefined);
    assert.ok(await restoreFrameworkCache(cache, restored, () => undefined, { owner: BUILD_USER }));
  });

  it('cached files are owned by root and not writable, exec bits kept', async () => {
    const file = await stat(join(entry, 'pkg', 'index.js'));
    assert.equal(file.uid, 0);
    assert.equal(file.mode & 0o7777, 0o444);
    assert.equal((await stat(join(entry, 'pkg', 'bin.js'))).mode & 0o7777, 0o555);
  });

  it('the build user cannot write a restored file, but can change its own tree', async () => {
    const out = await asBuildUser(
      restored,
      `${TRY}
      t('write', () => fs.writeFileSync('node_modules/pkg/index.js', 'planted'));
      t('append', () => fs.appendFileSync('node_modules/pkg/bin.js', 'planted'));
      t('chmod', () => fs.chmodSync('node_modules/pkg/index.js', 0o666));
      t('create', () => fs.writeFileSync('node_modules/pkg/new.js', 'mine'));
      t('lockfile', () => fs.writeFileSync('node_modules/.package-lock.json', '{"mine":1}'));
      t('webpack', () => fs.writeFileSync('.next/cache/webpack/pack.bin', 'mine'));
      t('replace', () => { fs.unlinkSync('node_modules/pkg/index.js'); fs.writeFileSync('node_modules/pkg/index.js', 'planted'); });
      console.log(JSON.stringify(out));`,
    );
    const linked = cache.op === 'link';
    // a clone or a copy is the build's own file: writing it cannot reach the cache either way
    assert.deepEqual(out, { write: linked ? 'EACCES' : 'ok', append: linked ? 'EACCES' : 'ok', chmod: linked ? 'EPERM' : 'ok', create: 'ok', lockfile: 'ok', webpack: 'ok', replace: 'ok' });
    assert.equal(await readFile(join(entry, 'pkg', 'index.js'), 'utf8'), 'original');
    assert.equal(await readFile(join(entry, 'pkg', 'bin.js'), 'utf8'), '#!/usr/bin/env node\n');
    assert.equal(await readFile(join(entry, '.package-lock.json'), 'utf8'), '{}');
  });

  it("folders and copies are the build user's, linked files stay root's", async () => {
    for (const path of ['node_modules', 'node_modules/pkg', 'node_modules/.package-lock.json', '.next', '.next/cache/webpack/pack.bin']) {
      assert.equal((await lstat(join(restored, path))).uid, BUILD_USER.uid, path);
    }
    if (cache.op === 'link') assert.equal((await lstat(join(restored, 'node_modules/pkg/bin.js'))).uid, 0);
  });

  it('the next build gets the bytes that were saved', async () => {
    const next = await tree({});
    assert.ok((await restoreDependencies(cache, 'k', next, () => undefined, { owner: BUILD_USER })) !== undefined);
    assert.equal(await readFile(join(next, 'node_modules', 'pkg', 'index.js'), 'utf8'), 'original');
    assert.equal(await readFile(join(next, 'node_modules', '.package-lock.json'), 'utf8'), '{}');
  });
});

describe("a cached file with other names (pnpm's store)", () => {
  it("is copied into the cache, so sealing never touches the store's inode, and the entry still restores", async () => {
    const root = await tree({ 'store/abc': 'from the store', 'node_modules/.pnpm/pkg/index.js': '' });
    const inStore = join(root, 'store', 'abc');
    const linked = join(root, 'node_modules', '.pnpm', 'pkg', 'index.js');
    const { link, rm } = await import('node:fs/promises');
    await rm(linked);
    await link(inStore, linked);
    const before = await stat(inStore);
    const cache = await openProjectCache({ dir: join(tmp.path, `pnpm-cache-${++counter}`) }, root);
    await saveDependencies(cache, 'k', root, 'pnpm', () => undefined);
    const after = await stat(inStore);
    assert.deepEqual([after.mode, after.uid, after.nlink], [before.mode, before.uid, 2]);
    const cached = await stat(join(cache.dir, 'deps', 'k', 'node_modules', '.pnpm', 'pkg', 'index.js'));
    assert.equal(cached.mode & 0o222, 0);
    const lines: string[] = [];
    assert.ok((await restoreDependencies(cache, 'k', await tree({}), (l) => lines.push(l))) !== undefined, lines.join('\n'));
  });
});

describe('package-manager caches are per project', () => {
  const dataDir = () => join(tmp.path, 'data');

  /** a static site whose build plants files in the package-manager caches and reports which it finds */
  async function buildAs(projectId: string): Promise<string> {
    const dir = await tree({
      'build.sh': [
        'set -e',
        'mkdir -p dist',
        'for f in "$COREPACK_HOME/v1/pnpm/9.0.0/bin/pnpm.cjs" "$npm_config_cache/_cacache/planted" "$YARN_CACHE_FOLDER/planted"; do',
        '  if [ -e "$f" ]; then echo "found $f" >> dist/index.html; fi',
        '  mkdir -p "$(dirname "$f")"; echo "console.log(\'fake pnpm\')" > "$f"',
        'done',
        'echo done >> dist/index.html',
      ].join('\n'),
    });
    const cacheDir = packageCacheDir(dataDir(), projectId);
    const result = await runBuild({ sourceDir: dir, settings: { buildCommand: 'sh build.sh' }, env: {}, timeoutMs: 30_000, log: () => undefined, cacheDir, hiddenPaths: [] });
    return readFile(join(result.outputDir, 'index.html'), 'utf8');
  }

  it("what project A plants in COREPACK_HOME and the npm and yarn caches, project B's build does not see", async () => {
    assert.equal(await buildAs('prj_a'), 'done\n');
    assert.equal(await buildAs('prj_b'), 'done\n');
    // the same project's next build does see its own: the check above can fail
    assert.equal((await buildAs('prj_a')).split('\n').filter((l) => l.startsWith('found ')).length, 3);
  });
});
