import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, cp, lstat, mkdir, readdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runBuild, type BuildCacheOptions, type BuildRequest, type BuildResult } from '../../src/build/index.js';
import { matchesGlobs, parsePnpmPackages } from '../../src/build/workspace.js';
import { fixturesDir, tempDir } from '../helpers/paths.js';

// Monorepos, installed for real from the registry: each app of a workspace is its own project
// (rootDirectory apps/web or apps/docs) in its own checkout, with its own project cache.
let tmp: Awaited<ReturnType<typeof tempDir>>;
let cacheDir: string;
let counter = 0;

before(async () => {
  tmp = await tempDir('slipway-workspace-');
  cacheDir = join(tmp.path, 'pm-cache');
});
after(() => tmp.cleanup());

async function checkout(fixture: string): Promise<string> {
  const dir = join(tmp.path, `src-${++counter}`);
  await cp(join(fixturesDir, fixture), dir, { recursive: true });
  return dir;
}

const projectCache = (): BuildCacheOptions => ({ dir: join(tmp.path, `project-cache-${++counter}`) });

async function build(sourceDir: string, rootDirectory: string, cache?: BuildCacheOptions, extra: Partial<BuildRequest> = {}): Promise<BuildResult & { lines: string[]; log: string }> {
  const lines: string[] = [];
  const result = await runBuild({ sourceDir, settings: { rootDirectory }, env: {}, timeoutMs: 300_000, log: (l) => lines.push(l), cacheDir, hiddenPaths: [], cache, ...extra });
  return { ...result, lines, log: lines.join('\n') };
}

const html = (result: BuildResult) => readFile(join(result.outputDir, 'index.html'), 'utf8');
const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

describe('pnpm workspace: two apps share packages/ui (workspace:*)', () => {
  let cache: BuildCacheOptions;
  let web: Awaited<ReturnType<typeof build>>;
  let webDir: string;

  before(async () => {
    cache = projectCache();
    webDir = await checkout('mono-pnpm');
    web = await build(webDir, 'apps/web', cache);
  });

  it('installs once at the workspace root with the root lockfile, frozen', () => {
    assert.match(web.log, /^Workspace: apps\/web is package web of the pnpm workspace at the repository root \(pnpm-workspace\.yaml, 3 packages\); installing there with pnpm-lock\.yaml$/m);
    assert.ok(
      web.lines.some((l) => /^Running "corepack pnpm(@[\d.]+)? install --frozen-lockfile" in the repository root$/.test(l)),
      web.log,
    );
    assert.equal(web.packageManager, 'pnpm');
    assert.equal(web.cache.dependencies, 'miss');
  });

  it("builds ui first (pnpm --filter web...), then web, whose output reads ui's built file", async () => {
    assert.ok(
      web.lines.some((l) => /^Running "corepack pnpm(@[\d.]+)? --filter web\.\.\. run build" in the repository root$/.test(l)),
      web.log,
    );
    assert.equal(await html(web), '<h1>web with ui</h1><p>isNumber(5)=true</p>\n');
    assert.equal(web.outputDir, join(webDir, 'apps', 'web', 'dist'));
    assert.ok(await exists(join(webDir, 'packages', 'ui', 'dist', 'index.js')));
    assert.equal(await exists(join(webDir, 'apps', 'docs', 'dist')), false, 'the other app is not built');
  });

  it('builds the other app by its rootDirectory, with its own output', async () => {
    const docs = await build(await checkout('mono-pnpm'), 'apps/docs', projectCache());
    assert.ok(
      docs.lines.some((l) => /^Running "corepack pnpm(@[\d.]+)? --filter docs\.\.\. run build" in the repository root$/.test(l)),
      docs.log,
    );
    assert.equal(await html(docs), '<h1>docs with ui</h1><p>isNumber(5)=true</p>\n');
  });

  it('the second build of the same lockfile is a cache hit: the root and package node_modules come back, links and all', async () => {
    const dir = await checkout('mono-pnpm');
    const second = await build(dir, 'apps/web', cache);
    assert.equal(second.cache.dependencies, 'hit', second.log);
    assert.equal(second.cache.key, web.cache.key);
    assert.ok(!second.lines.some((l) => l.includes('pnpm install')), second.log);
    // apps/web's and apps/docs' own trees; packages/ui has no dependencies, so pnpm made it none
    assert.match(second.log, /^Restored node_modules and 2 package node_modules from cache /m);
    assert.equal(await readlink(join(dir, 'apps', 'web', 'node_modules', '@mono', 'ui')), '../../../../packages/ui');
    assert.equal(await html(second), '<h1>web with ui</h1><p>isNumber(5)=true</p>\n');
  });

  it('a changed package.json of another workspace package changes the key', async () => {
    const dir = await checkout('mono-pnpm');
    const manifest = JSON.parse(await readFile(join(dir, 'apps', 'docs', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    manifest.dependencies['is-number'] = '7.0.0 || 6.0.0';
    await writeFile(join(dir, 'apps', 'docs', 'package.json'), JSON.stringify(manifest));
    // the lockfile no longer matches: a frozen install refuses, where a cache hit would have hidden it
    await assert.rejects(build(dir, 'apps/web', cache), (err: Error) => /pnpm(@[\d.]+)? install --frozen-lockfile/.test(err.message));
  });
});

describe('npm workspace: web → ui → tokens, without turbo', () => {
  let cache: BuildCacheOptions;
  let web: Awaited<ReturnType<typeof build>>;

  before(async () => {
    cache = projectCache();
    web = await build(await checkout('mono-npm'), 'apps/web', cache);
  });

  it('runs npm ci at the root, then builds the dependencies in dependency order, then the app', () => {
    assert.ok(web.lines.includes('Running "npm ci" in the repository root'), web.log);
    assert.ok(web.lines.includes('Building the workspace dependencies first, in dependency order: @mono/tokens → @mono/ui → web'), web.log);
    const ran = web.lines.filter((l) => l.startsWith('Running "npm run build'));
    assert.deepEqual(ran, [
      'Running "npm run build --workspace=packages/tokens" in the repository root',
      'Running "npm run build --workspace=packages/ui" in the repository root',
      'Running "npm run build --workspace=apps/web" in the repository root',
    ]);
  });

  it('each app gets its own output, with its own version of a conflicting dependency', async () => {
    // npm hoists docs' is-number 6 to the root and keeps web's 7 in apps/web/node_modules
    assert.equal(await html(web), '<h1 style="color:teal">web with ui</h1><p>is-number 7.0.0</p>\n');
    const docs = await build(await checkout('mono-npm'), 'apps/docs');
    assert.equal(await html(docs), '<h1 style="color:teal">docs with ui</h1><p>is-number 6.0.0</p>\n');
  });

  it("a cache hit restores the package's own node_modules too", async () => {
    const dir = await checkout('mono-npm');
    const second = await build(dir, 'apps/web', cache);
    assert.equal(second.cache.dependencies, 'hit', second.log);
    assert.ok(!second.lines.some((l) => l.includes('npm ci')), second.log);
    assert.match(second.log, /^Restored node_modules and 1 package node_modules from cache /m);
    assert.ok((await lstat(join(dir, 'node_modules', '@mono', 'ui'))).isSymbolicLink());
    assert.equal(await html(second), '<h1 style="color:teal">web with ui</h1><p>is-number 7.0.0</p>\n');
  });

  it('works the same without the sandbox (commands get their folder as cwd instead of env -C)', async () => {
    const result = await build(await checkout('mono-npm'), 'apps/web', undefined, { sandbox: false });
    assert.ok(result.lines.includes('Running "npm run build --workspace=packages/tokens" in the repository root'), result.log);
    assert.equal(await html(result), '<h1 style="color:teal">web with ui</h1><p>is-number 7.0.0</p>\n');
  });

  it('a buildCommand set by the project replaces the workspace build and runs in the package', async () => {
    const result = await build(await checkout('mono-npm'), 'apps/web', undefined, { settings: { rootDirectory: 'apps/web', buildCommand: 'mkdir -p dist && pwd > dist/index.html' } });
    assert.ok(!result.lines.some((l) => l.startsWith('Running "npm run build')), result.log);
    assert.match(await html(result), /\/apps\/web\n$/);
  });
});

describe('yarn classic workspace', () => {
  it('installs at the root with yarn.lock frozen, builds ui then the app with yarn workspace, and caches per lockfile', async () => {
    const cache = projectCache();
    const web = await build(await checkout('mono-yarn'), 'apps/web', cache);
    assert.ok(
      web.lines.some((l) => /^Running "corepack yarn(@[\d.]+)? install --frozen-lockfile" in the repository root$/.test(l)),
      web.log,
    );
    const ran = web.lines.filter((l) => /^Running "corepack yarn(@[\d.]+)? workspace/.test(l)).map((l) => l.replace(/corepack yarn@[\d.]+/, 'corepack yarn'));
    assert.deepEqual(ran, ['Running "corepack yarn workspace @mono/ui run build" in the repository root', 'Running "corepack yarn workspace web run build" in the repository root']);
    assert.equal(await html(web), '<h1>web with ui</h1><p>isNumber(5)=true</p>\n');
    const again = await build(await checkout('mono-yarn'), 'apps/web', cache);
    assert.equal(again.cache.dependencies, 'hit', again.log);
    assert.equal(await html(again), '<h1>web with ui</h1><p>isNumber(5)=true</p>\n');
  });
});

describe('turborepo (pnpm workspace with turbo from the registry)', () => {
  let turboCache: BuildCacheOptions;
  before(() => {
    turboCache = projectCache();
  });

  it('builds the app with turbo run build --filter=web..., ui first, and not the other app (turbo runs pnpm through a corepack shim)', async () => {
    const dir = await checkout('mono-turbo');
    const web = await build(dir, 'apps/web', turboCache);
    assert.match(web.log, /^Workspace: apps\/web is package web of the pnpm workspace at the repository root \(pnpm-workspace\.yaml, 3 packages, turbo\)/m);
    assert.ok(web.lines.includes('Running "turbo run build --filter=web... --env-mode=loose" in the repository root'), web.log);
    assert.ok(
      web.lines.some((l) => l.startsWith('@mono/ui:build: cache miss')),
      web.log,
    );
    assert.equal(await html(web), '<h1>web with ui</h1><p>built by turbo: true</p>\n');
    assert.equal(await exists(join(dir, 'apps', 'docs', 'dist')), false);
  });

  it("a second build of the unchanged project is turbo's own cache hit: .turbo/cache came back, nothing is rebuilt", async () => {
    const dir = await checkout('mono-turbo');
    const again = await build(dir, 'apps/web', turboCache);
    assert.match(again.log, /^Restored \.turbo\/cache from cache in /m);
    assert.ok(
      again.lines.some((l) => l.startsWith('@mono/ui:build: cache hit')),
      again.log,
    );
    assert.ok(
      again.lines.some((l) => l.startsWith('web:build: cache hit')),
      again.log,
    );
    assert.ok(
      again.lines.some((l) => /FULL TURBO/.test(l)),
      again.log,
    );
    // turbo replayed the outputs (dist/**) from its cache
    assert.equal(await html(again), '<h1>web with ui</h1><p>built by turbo: true</p>\n');
  });

  it('without a packageManager field (which turbo 2 requires) builds without turbo, and says so', async () => {
    const dir = await checkout('mono-turbo');
    const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
    delete manifest.packageManager;
    await writeFile(join(dir, 'package.json'), JSON.stringify(manifest));
    const docs = await build(dir, 'apps/docs');
    assert.match(docs.log, /turbo needs a "packageManager" field in the root package\.json .*; building without turbo/);
    assert.ok(
      docs.lines.some((l) => /^Running "corepack pnpm(@[\d.]+)? --filter docs\.\.\. run build" in the repository root$/.test(l)),
      docs.log,
    );
    assert.equal(await html(docs), '<h1>docs with ui</h1><p>built by turbo: false</p>\n');
  });
});

describe('yarn berry (4.x) workspace: web → ui (workspace:*)', () => {
  it('nodeLinker: node-modules: installs at the root with yarn 4 --immutable, builds ui then web with yarn workspace', async () => {
    const dir = await checkout('mono-yarn-berry');
    const web = await build(dir, 'apps/web', projectCache());
    assert.equal(web.packageManagerVersion, '4.13.0');
    assert.ok(web.lines.includes('Running "corepack yarn@4.13.0 install --immutable" in the repository root'), web.log);
    assert.ok(web.lines.includes('Running "corepack yarn@4.13.0 workspace @mono/ui run build" in the repository root'), web.log);
    assert.ok(web.lines.includes('Running "corepack yarn@4.13.0 workspace web run build" in the repository root'), web.log);
    assert.equal(await html(web), '<h1>web with ui</h1><p>isNumber(5)=true</p>\n');
    assert.ok(await exists(join(dir, 'node_modules', 'is-number', 'package.json')), 'node_modules at the root');
    // yarn berry keeps its install state outside node_modules: nothing is cached that a restore would miss
    assert.equal(web.cache.dependencies, 'disabled');
  });

  it("the default Plug'n'Play: no node_modules at all, and the build (run by yarn, which loads .pnp.cjs) still works", async () => {
    const dir = await checkout('mono-yarn-berry');
    await writeFile(join(dir, '.yarnrc.yml'), '');
    const web = await build(dir, 'apps/web', projectCache());
    assert.ok(await exists(join(dir, '.pnp.cjs')), web.log);
    assert.equal(await exists(join(dir, 'node_modules')), false);
    assert.equal(await html(web), '<h1>web with ui</h1><p>isNumber(5)=true</p>\n');
  });
});

describe('Nx (npm workspace with nx from the registry)', () => {
  it('builds the app with nx run web:build, which builds ui first (nx.json dependsOn ^build)', async () => {
    const dir = await checkout('mono-nx');
    const web = await build(dir, 'apps/web');
    assert.match(web.log, /^Workspace: apps\/web is package web of the npm workspace at the repository root \(package\.json "workspaces", 3 packages, nx\)/m);
    assert.ok(web.lines.includes('Running "nx run web:build" in the repository root'), web.log);
    assert.equal(await html(web), '<h1>web with ui</h1><p>built by nx: true</p>\n');
    assert.equal(await exists(join(dir, 'apps', 'docs', 'dist')), false);
  });
});

describe('a hostile workspace', () => {
  it('a package folder linking out of the checkout is no package; a package node_modules the build swapped for a link is not saved', async () => {
    const outside = join(tmp.path, `outside-${++counter}`);
    await mkdir(outside);
    await writeFile(join(outside, 'package.json'), JSON.stringify({ name: 'evil', version: '1.0.0', scripts: { build: 'touch /tmp/pwned' } }));
    await writeFile(join(outside, 'secret.txt'), 'host secret');
    const dir = await checkout('mono-npm');
    await symlink(outside, join(dir, 'packages', 'evil'));
    // the first build step (tokens) swaps web's own node_modules for a link to the host folder
    await appendFile(
      join(dir, 'packages', 'tokens', 'build.js'),
      `fs.rmSync('../../apps/web/node_modules', { recursive: true });\nfs.symlinkSync(${JSON.stringify(outside)}, '../../apps/web/node_modules');\n`,
    );
    await writeFile(join(dir, 'packages', 'tokens', 'build.js'), `const fs = require('node:fs');\n${await readFile(join(dir, 'packages', 'tokens', 'build.js'), 'utf8')}`);
    const cache = projectCache();
    const web = await build(dir, 'apps/web', cache);
    assert.match(web.log, /^Workspace: apps\/web is package web of the npm workspace at the repository root \(package\.json "workspaces", 4 packages\)/m);
    assert.ok(!web.log.includes('evil'), web.log);
    assert.ok(web.lines.includes('Warning: node_modules not saved to the cache: apps/web/node_modules is a symlink'), web.log);
    assert.deepEqual(await readdir(join(cache.dir, 'deps')), []);
  });
});

describe('workspace membership', () => {
  it('a folder the workspace globs do not name builds on its own', async () => {
    const dir = await checkout('mono-npm');
    await cp(join(fixturesDir, 'cache-npm'), join(dir, 'tools', 'site'), { recursive: true });
    const result = await build(dir, 'tools/site');
    assert.ok(result.lines.includes('Note: tools/site is not one of the packages of the workspace at the repository root (package.json "workspaces"); building it on its own'), result.log);
    assert.ok(result.lines.includes('Running "npm ci"'), result.log);
    assert.match(await html(result), /isNumber\(5\)=true/);
  });

  it('a workspace in a sub-folder of the repository installs and builds there', async () => {
    const dir = join(tmp.path, `src-${++counter}`);
    await cp(join(fixturesDir, 'mono-npm'), join(dir, 'frontend'), { recursive: true });
    const result = await build(dir, 'frontend/apps/docs', projectCache());
    assert.match(result.log, /^Workspace: apps\/docs is package docs of the npm workspace at frontend /m);
    assert.ok(result.lines.includes('Running "npm ci" in frontend'), result.log);
    assert.ok(result.lines.includes('Running "npm run build --workspace=apps/docs" in frontend'), result.log);
    assert.equal(await html(result), '<h1 style="color:teal">docs with ui</h1><p>is-number 6.0.0</p>\n');
    assert.equal(result.cache.dependencies, 'miss');
  });

  it('reads pnpm-workspace.yaml package lists, block and flow', () => {
    assert.deepEqual(parsePnpmPackages("packages:\n  - 'apps/*'\n  # shared\n  - \"packages/**\"  # all\n  - '!**/test/**'\ncatalog:\n  react: ^19\n"), ['apps/*', 'packages/**', '!**/test/**']);
    assert.deepEqual(parsePnpmPackages('packages: [\'apps/*\', "libs/*"]\n'), ['apps/*', 'libs/*']);
    assert.deepEqual(parsePnpmPackages('onlyBuiltDependencies:\n  - esbuild\n'), []);
  });

  it('matches workspace globs as npm and pnpm do', () => {
    assert.ok(matchesGlobs('apps/web', ['apps/*']));
    assert.ok(!matchesGlobs('apps/web/sub', ['apps/*']));
    assert.ok(matchesGlobs('packages/a/b', ['packages/**']));
    assert.ok(matchesGlobs('apps/web', ['./apps/web/']));
    assert.ok(!matchesGlobs('packages/x/test/y', ['packages/**', '!**/test/**']));
    assert.ok(!matchesGlobs('apps.web', ['apps/*']));
  });
});
