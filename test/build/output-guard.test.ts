import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { runBuild, type BuildRequest, type BuildResult } from '../../src/build/index.js';
import { AppError } from '../../src/errors/index.js';
import { tempDir } from '../helpers/paths.js';

/*
 * Never serve what was not built: after a build command ran, the output is the framework's
 * folder or one the build created or changed, never the root and never a folder that was there
 * before and is unchanged, unless the project says so (outputDirectory ".").
 */

let tmp: Awaited<ReturnType<typeof tempDir>>;
before(async () => {
  tmp = await tempDir('slipway-output-guard-');
});
after(() => tmp.cleanup());

async function source(files: Record<string, string | object>): Promise<string> {
  const dir = await mkdtemp(join(tmp.path, 'src-'));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}

async function build(sourceDir: string, extra: Partial<BuildRequest> = {}): Promise<BuildResult & { lines: string[] }> {
  const lines: string[] = [];
  const result = await runBuild({ sourceDir, settings: { installCommand: '' }, env: {}, timeoutMs: 120_000, log: (l) => lines.push(l), cacheDir: join(tmp.path, 'cache'), hiddenPaths: [], ...extra });
  return { ...result, lines };
}

/** OUTPUT_NOT_FOUND whose message (all a deployment's error shows) matches every pattern, and says what to do (`hint`) */
function notFound(message: RegExp[], hint: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
    assert.equal(err.code, 'OUTPUT_NOT_FOUND', err.message);
    for (const pattern of message) assert.match(err.message, pattern);
    assert.match(err.hint ?? '', hint);
    assert.match(err.message, hint);
    return true;
  };
}

/** A stand-in for the vitepress package: `vitepress build [root]` writes <root>/.vitepress/dist, public/ copied in, as the real one does. */
const FAKE_VITEPRESS = {
  'fake-vitepress/package.json': { name: 'vitepress', version: '0.0.0-fixture', type: 'module', bin: { vitepress: 'bin.mjs' } },
  'fake-vitepress/bin.mjs': [
    '#!/usr/bin/env node',
    "import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';",
    "import { join } from 'node:path';",
    "const [command, root = '.'] = process.argv.slice(2);",
    "if (command !== 'build') process.exit(2);",
    "const out = join(root, '.vitepress', 'dist');",
    "mkdirSync(join(out, 'assets'), { recursive: true });",
    "if (existsSync(join(root, 'public'))) cpSync(join(root, 'public'), out, { recursive: true });",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: this line is the fixture's own source code
    "writeFileSync(join(out, 'index.html'), `<h1>${readFileSync(join(root, 'index.md'), 'utf8').trim()}</h1>`);",
    "writeFileSync(join(out, 'assets', 'app.Bx3k9Q_z.js'), 'export {}');",
    "console.log('build complete');",
  ].join('\n'),
};

describe('the output is what the build made', () => {
  it('VitePress: serves .vitepress/dist, not the public/ folder of sources that was there before', async () => {
    const dir = await source({
      'package.json': { name: 'docs', private: true, scripts: { 'docs:dev': 'vitepress dev', 'docs:build': 'vitepress build' }, devDependencies: { vitepress: 'file:./fake-vitepress' } },
      '.vitepress/config.mts': "export default { title: 'Docs' }",
      'index.md': '# Hello',
      'public/logo.svg': '<svg xmlns="http://www.w3.org/2000/svg"/>',
      ...FAKE_VITEPRESS,
    });
    // the real install: npm links the local package and its bin
    const result = await build(dir, { settings: {} });
    assert.ok(
      result.lines.some((l) => l.startsWith('Framework: VitePress')),
      result.lines.join('\n'),
    );
    assert.ok(result.lines.includes('Running "vitepress build"'), result.lines.join('\n'));
    assert.equal(result.outputDir, join(dir, '.vitepress', 'dist'));
    assert.deepEqual((await readdir(result.outputDir)).sort(), ['assets', 'index.html', 'logo.svg']);
    assert.equal(await readFile(join(result.outputDir, 'index.html'), 'utf8'), '<h1># Hello</h1>');
  });

  it('SvelteKit with adapter-auto fails after the build, naming the adapters to use and what the build wrote', async () => {
    const dir = await source({
      'package.json': { type: 'module', scripts: { build: 'node build.mjs' }, devDependencies: { '@sveltejs/kit': '^2.9.0', '@sveltejs/adapter-auto': '^3.3.1' } },
      'svelte.config.js': "import adapter from '@sveltejs/adapter-auto';\nexport default { kit: { adapter: adapter() } };",
      'src/routes/+page.server.ts': 'export const load = () => ({ secret: process.env.DB_URL });',
      // what `vite build` with adapter-auto leaves: .svelte-kit/output and a warning, nothing to serve
      'build.mjs':
        "import { mkdirSync, writeFileSync } from 'node:fs';\nmkdirSync('.svelte-kit/output/client', { recursive: true });\nwriteFileSync('.svelte-kit/output/client/app.js', '');\nconsole.log('Could not detect a supported production environment');",
    });
    await assert.rejects(build(dir), notFound([/adapter-auto/, /created \.svelte-kit/, /Use @sveltejs\/adapter-node/], /@sveltejs\/adapter-node.*@sveltejs\/adapter-static/));
  });

  it('a build that writes nothing new fails, naming the unchanged folder; outputDirectory "." serves the root on purpose', async () => {
    const files = { 'package.json': { scripts: { build: 'node -e "console.log(42)"' } }, 'index.html': '<h1>root</h1>', 'public/index.html': '<h1>source</h1>' };
    const dir = await source(files);
    await assert.rejects(build(dir), notFound([/wrote no folder to serve/, /created nothing and changed nothing/, /public\/ was there before the build and unchanged/], /outputDirectory.*"\."/));
    const explicit = await build(await source(files), { settings: { installCommand: '', outputDirectory: '.' } });
    assert.equal(explicit.outputIsRoot, true);
    assert.ok(explicit.lines.includes('Output: the root directory (3 files)'), explicit.lines.join('\n'));
  });

  it('a folder that existed before counts once the build writes into it, however deep or in place', async () => {
    const deep = await source({ 'package.json': { scripts: { build: "node -e \"require('fs').writeFileSync('public/js/app.js', '1')\"" } }, 'public/js/old.js': '0', 'public/index.html': 'x' });
    assert.equal((await build(deep)).outputDir, join(deep, 'public'));
    // same name, same size, same bytes: only the file's change time tells
    const inPlace = await source({ 'package.json': { scripts: { build: "node -e \"require('fs').writeFileSync('dist/index.html', 'same')\"" } }, 'dist/index.html': 'same', 'public/index.html': 'x' });
    assert.equal((await build(inPlace)).outputDir, join(inPlace, 'dist'));
  });

  it("a framework's folder missing, another the build made is served with a warning", async () => {
    const dir = await source({
      'package.json': { scripts: { build: "node -e \"require('fs').mkdirSync('build');require('fs').writeFileSync('build/index.html', 'x')\"" }, devDependencies: { '@11ty/eleventy': '^3.0.0' } },
      'public/robots.txt': '',
    });
    const result = await build(dir);
    assert.equal(result.outputDir, join(dir, 'build'));
    assert.ok(result.lines.includes('Warning: _site is missing; serving build, which the build created'), result.lines.join('\n'));
  });

  it('Next.js whose build wrote no .next, and Nuxt without Nitro output, fail with what to set', async () => {
    const next = await source({ 'package.json': { scripts: { build: 'node -e ""' }, dependencies: { next: '15.1.0' } }, 'public/favicon.ico': '' });
    await assert.rejects(build(next), notFound([/no \.next folder/, /next build/], /next build/));
    const nuxt = await source({ 'package.json': { scripts: { build: "node -e \"require('fs').mkdirSync('.nuxt')\"" }, dependencies: { nuxt: '^3.15.0' } } });
    await assert.rejects(build(nuxt), notFound([/\.output\/server\/index\.mjs/, /there is no \.output at all/, /created \.nuxt/], /node-server preset/));
  });
});
