import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { detectFramework, FRAMEWORKS, type FrameworkMatch } from '../../src/frameworks/index.js';
import { fixturesDir } from '../helpers/paths.js';

interface Expected {
  id: FrameworkMatch['id'];
  variant: string;
  outputDirectory: string;
  /** server entry, or undefined for a static result */
  entry: string | undefined;
  staticDir?: string;
  /** each must appear in `reason`: the evidence, not just the verdict */
  evidence: string[];
  buildEnv?: Record<string, string>;
  /** what Slipway runs when the package has no build script (or, with ignoreBuildScript, always) */
  buildCommand?: string;
  /** the setup builds nothing servable: the deployment fails with this message and hint */
  unservable?: { message: RegExp; hint: RegExp };
  /** fingerprinted folders, when the variant's differ from its row's */
  immutable?: { prefix: string; names: string }[];
}

/** One row per fixture under test/fixtures/fw-*: adding a framework is a row here and a fixture. */
const CASES: Record<string, Expected> = {
  'fw-next-server': {
    id: 'nextjs',
    variant: 'server',
    outputDirectory: '.next',
    entry: '.next/standalone/server.js',
    staticDir: '.next/static',
    evidence: ['"next"', 'next.config.mjs'],
    buildEnv: { NEXT_TELEMETRY_DISABLED: '1', NEXT_PRIVATE_STANDALONE: '1' },
  },
  'fw-next-export': {
    id: 'nextjs',
    variant: 'static-export',
    outputDirectory: 'out',
    entry: undefined,
    evidence: ['"next"', 'output: "export"', 'next.config.ts'],
    buildEnv: { NEXT_TELEMETRY_DISABLED: '1' },
  },
  'fw-astro-static': { id: 'astro', variant: 'static', outputDirectory: 'dist', entry: undefined, evidence: ['"astro"', 'astro.config.mjs'] },
  'fw-astro-node': {
    id: 'astro',
    variant: 'server',
    outputDirectory: 'dist',
    entry: 'dist/server/entry.mjs',
    staticDir: 'dist/client',
    evidence: ['"astro"', 'output: "server"', '@astrojs/node', 'astro.config.ts'],
  },
  'fw-vite-react': { id: 'vite', variant: 'react', outputDirectory: 'dist', entry: undefined, evidence: ['"vite"', '@vitejs/plugin-react', 'vite.config.ts'] },
  'fw-vite-vue': { id: 'vite', variant: 'vue', outputDirectory: 'public-build', entry: undefined, evidence: ['"vite"', '@vitejs/plugin-vue'] },
  'fw-vite-svelte': { id: 'vite', variant: 'svelte', outputDirectory: 'dist', entry: undefined, evidence: ['"vite"', '@sveltejs/vite-plugin-svelte'] },
  'fw-vite-vanilla': { id: 'vite', variant: 'vanilla', outputDirectory: 'dist', entry: undefined, evidence: ['"vite"'] },
  'fw-sveltekit-node': {
    id: 'sveltekit',
    variant: 'node',
    outputDirectory: 'build',
    entry: 'build/index.js',
    staticDir: 'build/client',
    evidence: ['"@sveltejs/kit"', '@sveltejs/adapter-node', 'svelte.config.js'],
  },
  'fw-sveltekit-static': { id: 'sveltekit', variant: 'static', outputDirectory: 'site', entry: undefined, evidence: ['"@sveltejs/kit"', '@sveltejs/adapter-static'] },
  'fw-nuxt': {
    id: 'nuxt',
    variant: 'server',
    outputDirectory: '.output',
    entry: '.output/server/index.mjs',
    staticDir: '.output/public',
    evidence: ['"nuxt"', 'nuxt.config.ts'],
    buildEnv: { NUXT_TELEMETRY_DISABLED: '1', NITRO_PRESET: 'node-server' },
  },
  'fw-nuxt-generate': { id: 'nuxt', variant: 'static', outputDirectory: '.output/public', entry: undefined, evidence: ['"nuxt"', 'nuxt generate'] },
  'fw-remix': { id: 'remix', variant: 'vite', outputDirectory: 'build', entry: 'build/server/index.js', staticDir: 'build/client', evidence: ['"@remix-run/', 'vite.config.ts', 'Vite plugin'] },
  'fw-remix-classic': {
    id: 'remix',
    variant: 'classic',
    outputDirectory: 'build',
    entry: 'build/index.js',
    staticDir: 'public',
    evidence: ['"@remix-run/', 'remix.config.js'],
    immutable: [{ prefix: 'build/', names: 'all' }],
  },
  'fw-react-router': {
    id: 'react-router',
    variant: 'server',
    outputDirectory: 'build',
    entry: 'build/server/index.js',
    staticDir: 'build/client',
    evidence: ['"@react-router/dev"', 'react-router.config.ts'],
  },
  'fw-react-router-spa': { id: 'react-router', variant: 'static', outputDirectory: 'build/client', entry: undefined, evidence: ['ssr: false', 'react-router.config.ts'] },
  'fw-static-html': { id: 'static', variant: 'html', outputDirectory: '', entry: undefined, evidence: ['index.html', 'no package.json'] },
  'fw-static-html-package': { id: 'static', variant: 'html', outputDirectory: '', entry: undefined, evidence: ['index.html', 'no build script'] },
  'fw-sveltekit-auto': {
    id: 'sveltekit',
    variant: 'auto',
    outputDirectory: 'build',
    entry: undefined,
    evidence: ['@sveltejs/adapter-auto'],
    unservable: { message: /adapter-auto/, hint: /@sveltejs\/adapter-node.*@sveltejs\/adapter-static/ },
  },
  'fw-vitepress': {
    id: 'vitepress',
    variant: '',
    outputDirectory: 'docs/.vitepress/dist',
    entry: undefined,
    evidence: ['"vitepress"', 'docs/.vitepress/config.mts', 'vitepress build docs'],
    buildCommand: 'vitepress build docs',
  },
  'fw-docusaurus': { id: 'docusaurus', variant: '', outputDirectory: 'build', entry: undefined, evidence: ['"@docusaurus/core"', 'docusaurus.config.ts'], buildCommand: 'docusaurus build' },
  'fw-eleventy': { id: 'eleventy', variant: '', outputDirectory: 'dist', entry: undefined, evidence: ['"@11ty/eleventy"', 'output: "dist"', 'eleventy.config.js'], buildCommand: 'eleventy' },
  'fw-gatsby': { id: 'gatsby', variant: '', outputDirectory: 'public', entry: undefined, evidence: ['"gatsby"', 'gatsby-config.js'], buildCommand: 'gatsby build' },
  'fw-hexo': { id: 'hexo', variant: '', outputDirectory: 'site', entry: undefined, evidence: ['"hexo"', 'public_dir: site', '_config.yml'], buildCommand: 'hexo generate' },
  'fw-angular': {
    id: 'angular',
    variant: 'application',
    outputDirectory: 'dist/shop/browser',
    entry: undefined,
    evidence: ['"@angular/cli"', 'angular.json', 'project "shop"'],
    buildCommand: 'ng build',
  },
  'fw-angular-ssr': {
    id: 'angular',
    variant: 'ssr',
    outputDirectory: 'dist/store',
    entry: 'dist/store/server/server.mjs',
    staticDir: 'dist/store/browser',
    evidence: ['"@angular/cli"', 'angular.json', 'project "store"', 'ssr and outputMode "server"'],
    buildCommand: 'ng build',
  },
  'fw-analog': {
    id: 'analog',
    variant: 'server',
    outputDirectory: 'dist/analog',
    entry: 'dist/analog/server/index.mjs',
    staticDir: 'dist/analog/public',
    evidence: ['"@analogjs/platform"', 'vite.config.ts'],
    buildEnv: { NITRO_PRESET: 'node-server' },
    buildCommand: 'vite build',
  },
  'fw-preact-cli': { id: 'preact-cli', variant: '', outputDirectory: 'build', entry: undefined, evidence: ['"preact-cli"'], buildCommand: 'preact build' },
  'fw-vite-solid': { id: 'vite', variant: 'solid', outputDirectory: 'dist', entry: undefined, evidence: ['"vite"', 'vite-plugin-solid', 'vite.config.ts'], buildCommand: 'vite build' },
  'fw-vite-preact': { id: 'vite', variant: 'preact', outputDirectory: 'dist', entry: undefined, evidence: ['"vite"', '@preact/preset-vite', 'vite.config.js'] },
  'fw-solidstart': {
    id: 'solidstart',
    variant: 'server',
    outputDirectory: '.output',
    entry: '.output/server/index.mjs',
    staticDir: '.output/public',
    evidence: ['"@solidjs/start"', 'app.config.ts'],
    buildEnv: { NITRO_PRESET: 'node-server' },
    buildCommand: 'vinxi build',
  },
  'fw-qwik': {
    id: 'qwik',
    variant: 'static',
    outputDirectory: 'dist',
    entry: undefined,
    evidence: ['"@builder.io/qwik', 'the static adapter', 'adapters/static/vite.config.ts'],
    buildCommand: 'qwik build',
  },
  'fw-ember': { id: 'ember', variant: '', outputDirectory: 'dist', entry: undefined, evidence: ['"ember-cli"', 'ember-cli-build.js'], buildCommand: 'ember build --environment=production' },
  'fw-redwood': { id: 'redwood', variant: 'web', outputDirectory: 'web/dist', entry: undefined, evidence: ['"@redwoodjs/core"', 'redwood.toml', 'web side'], buildCommand: 'rw build web' },
  'fw-expo': { id: 'expo', variant: 'static', outputDirectory: 'dist', entry: undefined, evidence: ['"expo"', 'app.json'], buildCommand: 'expo export --platform web' },
  'fw-storybook': { id: 'storybook', variant: '', outputDirectory: 'storybook-static', entry: undefined, evidence: ['"storybook"', '.storybook/main.ts'], buildCommand: 'storybook build' },
};

describe('detectFramework on fixture repositories', () => {
  for (const [fixture, want] of Object.entries(CASES)) {
    it(`${fixture} is ${want.id} (${want.variant})`, async () => {
      const got = await detectFramework(join(fixturesDir, fixture));
      assert.equal(got.id, want.id, got.reason);
      assert.equal(got.variant ?? '', want.variant, got.reason);
      assert.equal(got.outputDirectory, want.outputDirectory);
      assert.equal(got.server?.entry, want.entry);
      if (want.staticDir !== undefined) assert.equal(got.server?.staticDir, want.staticDir);
      for (const evidence of want.evidence) assert.ok(got.reason.includes(evidence), `reason "${got.reason}" should name ${evidence}`);
      if (want.buildEnv !== undefined) assert.deepEqual(got.buildEnv, want.buildEnv);
      if (want.buildCommand !== undefined) assert.equal(got.buildCommand, want.buildCommand);
      assert.equal(got.unservable === undefined, want.unservable === undefined, `unservable: ${got.unservable?.message}`);
      if (want.unservable !== undefined) {
        assert.match(got.unservable!.message, want.unservable.message);
        assert.match(got.unservable!.hint, want.unservable.hint);
      }
      // every match carries its fingerprinted folders for the edge: its row's, or its variant's
      assert.deepEqual(got.immutable, want.immutable ?? FRAMEWORKS.find((row) => row.id === got.id)!.immutable);
      assert.equal(got.name, FRAMEWORKS.find((row) => row.id === got.id)?.name);
    });
  }

  it('has a case for every fw-* fixture, and a fixture for every row of the table', async () => {
    const fixtures = (await readdir(fixturesDir)).filter((name) => name.startsWith('fw-')).sort();
    assert.deepEqual(fixtures, Object.keys(CASES).sort());
    const covered = new Set(Object.values(CASES).map((c) => c.id));
    for (const row of FRAMEWORKS) assert.ok(covered.has(row.id), `no fixture for ${row.id}`);
  });

  it('serves Next.js build assets under /_next/static and public/ at the root', async () => {
    const got = await detectFramework(join(fixturesDir, 'fw-next-server'));
    assert.equal(got.server?.kind, 'nextjs-standalone');
    assert.deepEqual(got.server?.start, ['node', '.next/standalone/server.js']);
    assert.deepEqual(got.server?.mounts, [
      { dir: '.next/static', urlPath: '/_next/static' },
      { dir: 'public', urlPath: '/' },
    ]);
  });

  it('starts Remix and React Router builds with their serve tools, the others with node', async () => {
    const remix = await detectFramework(join(fixturesDir, 'fw-remix'));
    assert.deepEqual(remix.server?.start, ['node_modules/.bin/remix-serve', 'build/server/index.js']);
    const rr = await detectFramework(join(fixturesDir, 'fw-react-router'));
    assert.deepEqual(rr.server?.start, ['node_modules/.bin/react-router-serve', 'build/server/index.js']);
    const kit = await detectFramework(join(fixturesDir, 'fw-sveltekit-node'));
    assert.deepEqual(kit.server?.start, ['node', 'build/index.js']);
  });

  it("runs Angular's and Analog's servers from their own output folder (bundled with their packages)", async () => {
    const ng = await detectFramework(join(fixturesDir, 'fw-angular-ssr'));
    assert.deepEqual([ng.server?.kind, ng.server?.bundleDir, ng.server?.start], ['angular-node', 'dist/store', ['node', 'dist/store/server/server.mjs']]);
    const analog = await detectFramework(join(fixturesDir, 'fw-analog'));
    assert.deepEqual([analog.server?.kind, analog.server?.bundleDir], ['nitro-node', 'dist/analog']);
  });

  it('builds Storybook with storybook build, not the library build script beside it', async () => {
    const got = await detectFramework(join(fixturesDir, 'fw-storybook'));
    assert.equal(got.ignoreBuildScript, true);
  });

  it('every row names its evidence and output as data', () => {
    for (const row of FRAMEWORKS) {
      if (row.id !== 'static') assert.ok(row.detectors.dependencies.length > 0, `${row.id} has dependencies to look for`);
      for (const rule of row.immutable) assert.ok(!rule.prefix.startsWith('/') && (rule.prefix === '' || rule.prefix.endsWith('/')), `${row.id}: ${rule.prefix}`);
    }
  });

  it('the table is in priority order with static last', () => {
    const ids = FRAMEWORKS.map((row) => row.id);
    assert.equal(ids.at(-1), 'static');
    // frameworks built on Vite come before Vite itself
    for (const id of ['remix', 'react-router', 'sveltekit', 'astro', 'nuxt', 'solidstart', 'qwik', 'vitepress', 'redwood', 'eleventy', 'analog'] as const)
      assert.ok(ids.indexOf(id) < ids.indexOf('vite'), `${id} before vite`);
    // Storybook sits in many apps' devDependencies: any other framework wins over it
    assert.equal(ids.at(-2), 'storybook');
    assert.ok(ids.indexOf('react-router') < ids.indexOf('remix'));
    assert.ok(ids.indexOf('analog') < ids.indexOf('angular'), 'an Analog app is an Angular app too');
    assert.ok(Object.isFrozen(FRAMEWORKS));
  });
});
