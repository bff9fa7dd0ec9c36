import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { detectFramework } from '../../src/frameworks/index.js';
import { booleanOption, importsModule, stringOption, stripComments } from '../../src/frameworks/config-text.js';
import { tempDir } from '../helpers/paths.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let counter = 0;
before(async () => {
  tmp = await tempDir('slipway-frameworks-');
});
after(() => tmp.cleanup());

/** A fresh project from files; objects are written as JSON. */
async function project(files: Record<string, string | object>): Promise<string> {
  const dir = join(tmp.path, `p-${++counter}`);
  await mkdir(dir, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

const pkg = (deps: Record<string, string>, scripts: Record<string, string> = { build: 'x' }) => ({ scripts, dependencies: deps });

describe('config text heuristics', () => {
  it('reads literal options in any quote style, JSON keys included', () => {
    assert.equal(stringOption(`{ output: 'export' }`, 'output'), 'export');
    assert.equal(stringOption(`{ output: "server", }`, 'output'), 'server');
    assert.equal(stringOption('{output:`export`}', 'output'), 'export');
    assert.equal(stringOption(`{ "output": "export" }`, 'output'), 'export');
    assert.equal(booleanOption(`export default { ssr: false } satisfies Config`, 'ssr'), false);
  });

  it('does not see computed values, other keys that end in the name, or comments', () => {
    assert.equal(stringOption(`{ output: process.env.EXPORT ? 'export' : undefined }`, 'output'), undefined);
    assert.equal(stringOption(`{ buildOutput: 'export' }`, 'output'), undefined);
    assert.equal(stringOption(stripComments(`{\n  // output: 'export',\n  /* output: 'export' */ reactStrictMode: true }`), 'output'), undefined);
  });

  it('keeps "//" inside URLs', () => {
    assert.equal(stringOption(stripComments(`{ site: 'https://example.com', output: 'server' }`), 'site'), 'https://example.com');
  });

  it('recognises imports and requires of a module, not mentions in strings', () => {
    assert.ok(importsModule(`import node from '@astrojs/node';`, '@astrojs/node'));
    assert.ok(importsModule(`const adapter = require("@sveltejs/adapter-node")`, '@sveltejs/adapter-node'));
    assert.ok(importsModule(`adapter: (await import('@astrojs/node')).default()`, '@astrojs/node'));
    assert.ok(!importsModule(`const name = '@astrojs/node-extra'`, '@astrojs/node'));
  });
});

describe('detectFramework on tricky projects', () => {
  it('Next.js: a commented-out output: "export" is still a server build', async () => {
    const dir = await project({ 'package.json': pkg({ next: '15' }), 'next.config.js': `module.exports = {\n  // output: 'export',\n}` });
    const got = await detectFramework(dir);
    assert.equal(got.variant, 'server');
    assert.equal(got.server?.entry, '.next/standalone/server.js');
  });

  it('Next.js: a custom distDir moves the standalone server, and is the folder of a static export', async () => {
    const server = await detectFramework(await project({ 'package.json': pkg({ next: '15' }), 'next.config.mjs': `export default { distDir: 'build' }` }));
    assert.equal(server.server?.entry, 'build/standalone/server.js');
    assert.equal(server.server?.staticDir, 'build/static');
    const exported = await detectFramework(await project({ 'package.json': pkg({ next: '14' }), 'next.config.mjs': `export default { output: 'export', distDir: 'site' }` }));
    assert.equal(exported.outputDirectory, 'site');
  });

  it('Next.js: "next export" in the build script (Next 13) is a static export to out', async () => {
    const got = await detectFramework(await project({ 'package.json': pkg({ next: '13.4.0' }, { build: 'next build && next export' }) }));
    assert.equal(got.variant, 'static-export');
    assert.equal(got.outputDirectory, 'out');
    assert.match(got.reason, /"next export" in the build script/);
  });

  it('a folder named in a config file may not climb out of the project', async () => {
    const got = await detectFramework(await project({ 'package.json': pkg({ next: '15' }), 'next.config.js': `module.exports = { distDir: '../elsewhere' }` }));
    assert.equal(got.server?.entry, '.next/standalone/server.js');
    const vite = await detectFramework(await project({ 'package.json': pkg({ vite: '6' }), 'vite.config.js': `export default { build: { outDir: '/var/www' } }` }));
    assert.equal(vite.outputDirectory, 'dist');
  });

  it('Astro: output "hybrid" with the node adapter in dependencies is a server', async () => {
    const got = await detectFramework(
      await project({ 'package.json': pkg({ astro: '4', '@astrojs/node': '8' }), 'astro.config.mjs': `export default defineConfig({ output: 'hybrid', adapter: nodeAdapter })` }),
    );
    assert.equal(got.variant, 'server');
    assert.equal(got.server?.entry, 'dist/server/entry.mjs');
    assert.match(got.reason, /"@astrojs\/node"/);
  });

  it('Astro: output "server" without a node adapter says there is nothing to run', async () => {
    const got = await detectFramework(
      await project({
        'package.json': pkg({ astro: '5', '@astrojs/vercel': '8' }),
        'astro.config.mjs': `import vercel from '@astrojs/vercel';\nexport default { output: 'server', adapter: vercel() }`,
      }),
    );
    assert.equal(got.server, undefined);
    assert.match(got.reason, /no @astrojs\/node adapter/);
  });

  it('SvelteKit: adapter-auto is recognised and explained', async () => {
    const got = await detectFramework(
      await project({
        'package.json': pkg({ '@sveltejs/kit': '2', '@sveltejs/adapter-auto': '3', vite: '6', svelte: '5' }),
        'svelte.config.js': `import adapter from '@sveltejs/adapter-auto';\nexport default { kit: { adapter: adapter() } }`,
      }),
    );
    assert.equal(got.id, 'sveltekit');
    assert.equal(got.variant, 'auto');
    assert.equal(got.server, undefined);
    assert.match(got.reason, /adapter-node/);
  });

  it('Nuxt: an explicit Nitro preset is left alone', async () => {
    const got = await detectFramework(await project({ 'package.json': pkg({ nuxt: '3' }), 'nuxt.config.ts': `export default defineNuxtConfig({ nitro: { preset: 'node-server' } })` }));
    assert.equal(got.buildEnv?.NITRO_PRESET, undefined);
    assert.equal(got.server?.entry, '.output/server/index.mjs');
  });

  it('React Router: a custom buildDirectory moves the server and client', async () => {
    const got = await detectFramework(await project({ 'package.json': pkg({ 'react-router': '7' }), 'react-router.config.ts': `export default { buildDirectory: 'out', ssr: true }` }));
    assert.equal(got.id, 'react-router');
    assert.match(got.reason, /react-router\.config\.ts/);
    assert.equal(got.server?.entry, 'out/server/index.js');
    assert.equal(got.server?.staticDir, 'out/client');
  });

  it('Vite: the plugin outranks a stray library (a Vue app with react for one widget)', async () => {
    const got = await detectFramework(await project({ 'package.json': pkg({ vite: '6', react: '18', '@vitejs/plugin-vue': '5', vue: '3' }) }));
    assert.equal(got.variant, 'vue');
  });

  it('an unknown tool with a build script is static/unknown; an empty folder is static/html', async () => {
    const unknown = await detectFramework(await project({ 'package.json': pkg({ 'some-ssg': '1' }, { build: 'some-ssg build' }) }));
    assert.equal(unknown.id, 'static');
    assert.equal(unknown.variant, 'unknown');
    const empty = await detectFramework(await project({}));
    assert.equal(empty.id, 'static');
    assert.equal(empty.variant, 'html');
    assert.equal(empty.outputDirectory, '');
  });

  it('a package.json that is not JSON does not make detection throw', async () => {
    const got = await detectFramework(await project({ 'package.json': '{ "name": ', 'index.html': '<h1>hi</h1>' }));
    assert.equal(got.id, 'static');
    assert.match(got.reason, /package\.json that is not valid JSON/);
  });

  it('a Vite app with stories is a Vite app; Storybook alone is Storybook', async () => {
    const stories = { '.storybook/main.ts': 'export default { framework: "@storybook/react-vite" }' };
    const app = await detectFramework(await project({ 'package.json': pkg({ vite: '^6', storybook: '^8', '@storybook/react-vite': '^8' }), ...stories }));
    assert.equal(app.id, 'vite');
    const lib = await detectFramework(await project({ 'package.json': pkg({ storybook: '^8', '@storybook/react-vite': '^8' }), ...stories }));
    assert.equal(lib.id, 'storybook');
    // stories without a .storybook/main are not a Storybook site
    assert.equal((await detectFramework(await project({ 'package.json': pkg({ storybook: '^8' }) }))).id, 'static');
  });

  it('VitePress: the docs root comes from the script that builds it, else docs/ when it holds the config', async () => {
    const script = await detectFramework(
      await project({ 'package.json': pkg({ vitepress: '^1' }, { 'docs:build': 'vitepress build site' }), 'site/.vitepress/config.ts': 'export default { outDir: "../out" }' }),
    );
    // an outDir that climbs out of the docs root is not taken literally
    assert.equal(script.outputDirectory, 'site/.vitepress/dist');
    assert.equal(script.buildCommand, 'vitepress build site');
    const rooted = await detectFramework(await project({ 'package.json': pkg({ vitepress: '^1' }, {}), '.vitepress/config.mts': 'export default {}', 'public/logo.svg': '<svg/>' }));
    assert.equal(rooted.outputDirectory, '.vitepress/dist');
    assert.equal(rooted.buildCommand, 'vitepress build');
    const conventional = await detectFramework(await project({ 'package.json': pkg({ vitepress: '^1' }, {}), 'docs/.vitepress/config.js': 'export default { outDir: "public-site" }' }));
    assert.equal(conventional.outputDirectory, 'docs/public-site');
    assert.equal(conventional.buildCommand, 'vitepress build docs');
  });

  it('Angular: the webpack browser builder writes outputPath itself; a project without angular.json is not Angular', async () => {
    const json = { projects: { web: { projectType: 'application', architect: { build: { builder: '@angular-devkit/build-angular:browser', options: { outputPath: 'dist/web' } } } } } };
    const browser = await detectFramework(await project({ 'package.json': pkg({ '@angular/core': '^16', '@angular/cli': '^16' }), 'angular.json': json }));
    assert.equal(browser.outputDirectory, 'dist/web');
    assert.equal(browser.variant, 'browser');
    const objectPath = { projects: { web: { projectType: 'application', architect: { build: { builder: '@angular/build:application', options: { outputPath: { base: 'out', browser: '' } } } } } } };
    assert.equal((await detectFramework(await project({ 'package.json': pkg({ '@angular/core': '^19' }), 'angular.json': objectPath }))).outputDirectory, 'out');
    assert.equal((await detectFramework(await project({ 'package.json': pkg({ '@angular/core': '^19' }) }))).id, 'static');
  });

  it('names the setups that build nothing servable, with what to use', async () => {
    const qwik = await detectFramework(await project({ 'package.json': pkg({ '@builder.io/qwik': '^1', '@builder.io/qwik-city': '^1' }) }));
    assert.match(qwik.unservable?.hint ?? '', /qwik add static/);
    const expo = await detectFramework(await project({ 'package.json': pkg({ expo: '~52', 'react-native-web': '~0.19' }), 'app.json': { expo: { web: { output: 'server' } } } }));
    assert.match(expo.unservable?.hint ?? '', /"output": "static"/);
    const astro = await detectFramework(await project({ 'package.json': pkg({ astro: '^5' }), 'astro.config.mjs': "export default { output: 'server' }" }));
    assert.match(astro.unservable?.hint ?? '', /@astrojs\/node/);
  });
});
