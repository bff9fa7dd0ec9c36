import { stringOption } from './config-text.js';
import { because, option, relativePath, row, server, VITE_ASSETS } from './row-helpers.js';
import type { DetectContext, FrameworkDefinition, FrameworkMatch } from './types.js';

/*
 * Rows for the static site generators and single-page-app tools: each builds a folder of files.
 * Most are data only (`row()`); a `refine` reads the one setting that moves the output folder.
 */

/** VitePress builds `<docs root>/.vitepress/dist`; the docs root is the folder its build script names */
export const VITEPRESS: FrameworkDefinition = row(
  { id: 'vitepress', name: 'VitePress', detectors: { dependencies: ['vitepress'] }, buildCommand: 'vitepress build', outputDirectory: '.vitepress/dist', immutable: [VITE_ASSETS] },
  async (ctx, match) => {
    // the starter's script is "docs:build": "vitepress build docs"; look at "build" first, then any script
    const scripts = typeof ctx.pkg?.scripts === 'object' && ctx.pkg.scripts !== null ? Object.keys(ctx.pkg.scripts) : [];
    const pattern = /\bvitepress build(?:\s+([^\s&|;'"-][^\s&|;'"]*))?/;
    const script = ['build', ...scripts].find((name) => pattern.test(ctx.script(name) ?? ''));
    const named = script === undefined ? null : pattern.exec(ctx.script(script)!);
    let root = relativePath(named?.[1]);
    const evidence = named === null ? undefined : `"${named[0]}" in the ${script} script`;
    if (named === null) {
      // no build script naming it: the conventional docs/ folder when it holds the config, else the root
      root = (await ctx.config('docs/.vitepress/config')) !== undefined ? 'docs' : undefined;
    }
    const prefix = root === undefined ? '' : `${root}/`;
    const config = await ctx.config(`${prefix}.vitepress/config`);
    // outDir is relative to the docs root
    const outDir = relativePath(option(config, 'outDir'));
    const reason = because('vitepress', config, outDir === undefined ? [] : [`outDir: "${outDir}"`], evidence === undefined ? [] : [evidence]);
    return { ...match, reason, buildCommand: `vitepress build${root === undefined ? '' : ` ${root}`}`, outputDirectory: `${prefix}${outDir ?? '.vitepress/dist'}` };
  },
);

export const DOCUSAURUS: FrameworkDefinition = row({
  id: 'docusaurus',
  name: 'Docusaurus',
  detectors: { dependencies: ['@docusaurus/core'], configFiles: ['docusaurus.config.js'] },
  buildCommand: 'docusaurus build',
  outputDirectory: 'build',
  // assets/js/main.<hash>.js, assets/images/<name>-<hash>.png
  immutable: [{ prefix: 'assets/', names: 'hashed' }],
});

export const ELEVENTY: FrameworkDefinition = row(
  {
    id: 'eleventy',
    name: 'Eleventy',
    detectors: { dependencies: ['@11ty/eleventy'], configFiles: ['eleventy.config.js', '.eleventy.js'] },
    buildCommand: 'eleventy',
    outputDirectory: '_site',
    immutable: [],
  },
  (ctx, match, config) => {
    const flag = /\beleventy\b[^&|;]*--output[= ]([^\s&|;'"]+)/.exec(ctx.script('build') ?? '')?.[1];
    const fromScript = relativePath(flag);
    // `dir: { output: "dist" }` in the config
    const fromConfig = fromScript === undefined ? relativePath(option(config, 'output')) : undefined;
    const out = fromScript ?? fromConfig;
    if (out === undefined) return match;
    return { ...match, outputDirectory: out, reason: fromScript !== undefined ? `${match.reason} and --output=${out} in the build script` : because('@11ty/eleventy', config, [`output: "${out}"`]) };
  },
);

export const GATSBY: FrameworkDefinition = row({
  id: 'gatsby',
  name: 'Gatsby',
  detectors: { dependencies: ['gatsby'], configFiles: ['gatsby-config.js'] },
  buildCommand: 'gatsby build',
  // public/ is Gatsby's output (the sources' static files live in static/)
  outputDirectory: 'public',
  // public/static/ holds only files Gatsby named by content hash; app-<hash>.js at the root is seen by its name
  immutable: [{ prefix: 'static/', names: 'all' }],
});

export const HEXO: FrameworkDefinition = row(
  { id: 'hexo', name: 'Hexo', detectors: { dependencies: ['hexo'], configFiles: ['_config.yml'] }, buildCommand: 'hexo generate', outputDirectory: 'public', immutable: [] },
  (_ctx, match, config) => {
    const dir = relativePath(/^public_dir:\s*["']?([^\s"'#]+)/m.exec(config?.text ?? '')?.[1]);
    return dir === undefined ? match : { ...match, outputDirectory: dir, reason: because('hexo', config, [`public_dir: ${dir}`]) };
  },
);

export const ANGULAR: FrameworkDefinition = row(
  {
    id: 'angular',
    name: 'Angular',
    detectors: { dependencies: ['@angular/cli', '@angular/core'], configFiles: ['angular.json'] },
    needsConfig: true,
    buildCommand: 'ng build',
    outputDirectory: 'dist',
    // the application builder (esbuild) names files main-2OBYZ2TY.js, chunk-*.js, media/*-<hash>.*, all at the root
    immutable: [{ prefix: '', names: 'esbuild' }],
  },
  (_ctx, match, config) => angularOutput(match, config?.text),
);

interface AngularBuild {
  builder?: string;
  options?: { outputPath?: unknown; ssr?: unknown; outputMode?: unknown; externalDependencies?: unknown };
}

/**
 * angular.json's first application: `outputPath` (a string or `{ base, browser, server }`),
 * default dist/<name>; the application builder puts the site in its `browser/` folder. With
 * `ssr` set (`ng new --ssr`, `ng add @angular/ssr`) it also writes the Express server of
 * @angular/ssr to `server/server.mjs`, unless `outputMode: "static"` prerenders every route
 * instead (Angular 19+). That server is bundled by esbuild with its packages, so its folder runs
 * on its own, unless `externalDependencies` leaves some out: then it needs the project's node_modules.
 */
function angularOutput(match: FrameworkMatch, text: string | undefined): FrameworkMatch {
  let workspace: { projects?: Record<string, { projectType?: string; architect?: { build?: AngularBuild } }> };
  try {
    workspace = JSON.parse(text ?? '{}') as typeof workspace;
  } catch {
    return match;
  }
  const [name, project] = Object.entries(workspace.projects ?? {}).find(([, p]) => p.projectType === 'application') ?? [];
  if (name === undefined || project === undefined) return match;
  const build = project.architect?.build;
  const path = build?.options?.outputPath;
  const folders = typeof path === 'object' && path !== null ? (path as { base?: unknown; browser?: unknown; server?: unknown }) : {};
  const base = relativePath(typeof path === 'string' ? path : String(folders.base ?? '')) ?? `dist/${name}`;
  const browser = typeof folders.browser === 'string' ? folders.browser : 'browser';
  const application = /:application$/.test(build?.builder ?? ':application');
  const out = application && browser !== '' ? `${base}/${relativePath(browser) ?? 'browser'}` : base;
  const reason = `${match.reason} (project "${name}", ${build?.builder ?? 'the default builder'}`;
  const ssr = build?.options?.ssr;
  const mode = build?.options?.outputMode;
  if (application && ssr !== undefined && ssr !== false && mode !== 'static') {
    const serverDir = `${base}/${relativePath(typeof folders.server === 'string' ? folders.server : undefined) ?? 'server'}`;
    const entry = `${serverDir}/server.mjs`;
    const externals = Array.isArray(build?.options?.externalDependencies) && (build.options.externalDependencies as unknown[]).length > 0;
    return {
      ...match,
      variant: 'ssr',
      outputDirectory: base,
      reason: `${reason}, ssr${typeof mode === 'string' ? ` and outputMode "${mode}"` : ''})`,
      server: server('angular-node', entry, ['node', entry], [{ dir: out, urlPath: '/' }], externals ? {} : { bundleDir: base }),
    };
  }
  return { ...match, variant: application ? 'application' : 'browser', outputDirectory: out, reason: `${reason})` };
}

// preact-cli (Preact's webpack CLI, before its Vite preset): `preact build` writes build/. Its
// bundles are named `bundle.<5 hex>.js`, a hash too short to tell from a version: they revalidate.
export const PREACT_CLI: FrameworkDefinition = row({
  id: 'preact-cli',
  name: 'Preact CLI',
  detectors: { dependencies: ['preact-cli'], configFiles: ['preact.config.js'] },
  buildCommand: 'preact build',
  outputDirectory: 'build',
  immutable: [],
});

export const EMBER: FrameworkDefinition = row({
  id: 'ember',
  name: 'Ember',
  detectors: { dependencies: ['ember-cli'], configFiles: ['ember-cli-build.js'] },
  buildCommand: 'ember build --environment=production',
  outputDirectory: 'dist',
  immutable: [{ prefix: 'assets/', names: 'hashed' }],
});

/** Redwood is full stack; Slipway serves its web side (web/dist), not its API functions */
export const REDWOOD: FrameworkDefinition = row(
  {
    id: 'redwood',
    name: 'RedwoodJS',
    detectors: { dependencies: ['@redwoodjs/core'], configFiles: ['redwood.toml'] },
    buildCommand: 'rw build web',
    outputDirectory: 'web/dist',
    immutable: [VITE_ASSETS],
  },
  (_ctx, match) => ({ ...match, variant: 'web', reason: `${match.reason}; the web side only (the api side is not served)` }),
);

export const EXPO: FrameworkDefinition = row(
  {
    id: 'expo',
    name: 'Expo (web)',
    detectors: { dependencies: ['expo'], configFiles: ['app.json', 'app.config.js'] },
    buildCommand: 'expo export --platform web',
    outputDirectory: 'dist',
    immutable: [{ prefix: '_expo/static/', names: 'all' }, VITE_ASSETS],
  },
  async (ctx, match, config) => {
    if (!ctx.has('react-native-web'))
      return {
        ...match,
        variant: 'native',
        unservable: {
          message: 'This Expo app has no web target (no react-native-web).',
          hint: 'Add react-native-web and react-dom ("npx expo install react-native-web react-dom") to export a web build.',
        },
      };
    const output = config === undefined ? undefined : stringOption(config.text, 'output');
    if (output === 'server')
      return {
        ...match,
        variant: 'server',
        reason: because('expo', config, ['output: "server"']),
        unservable: { message: 'Expo web with output: "server" builds a server Slipway cannot run.', hint: 'Set "web": { "output": "static" } (or "single") in app.json.' },
      };
    return { ...match, variant: output ?? 'single' };
  },
);

/**
 * After Vite: Storybook is a devDependency of many apps that deploy something else, so it is
 * the project only when no other row matched and .storybook/main exists; its site is built by
 * `storybook build`, not by the package's own build script (which builds the library).
 */
export const STORYBOOK: FrameworkDefinition = row({
  id: 'storybook',
  name: 'Storybook',
  detectors: {
    dependencies: [
      'storybook',
      '@storybook/cli',
      '@storybook/react',
      '@storybook/react-vite',
      '@storybook/react-webpack5',
      '@storybook/vue3',
      '@storybook/vue3-vite',
      '@storybook/svelte',
      '@storybook/angular',
      '@storybook/html',
      '@storybook/web-components',
    ],
    configFiles: ['.storybook/main.js'],
  },
  needsConfig: true,
  buildCommand: 'storybook build',
  ignoreBuildScript: true,
  outputDirectory: 'storybook-static',
  immutable: [VITE_ASSETS],
});

const VITE_VARIANTS = [
  { variant: 'react', plugin: '@vitejs/plugin-react', library: 'react' },
  { variant: 'react', plugin: '@vitejs/plugin-react-swc', library: 'react' },
  { variant: 'vue', plugin: '@vitejs/plugin-vue', library: 'vue' },
  { variant: 'svelte', plugin: '@sveltejs/vite-plugin-svelte', library: 'svelte' },
  { variant: 'preact', plugin: '@preact/preset-vite', library: 'preact' },
  { variant: 'solid', plugin: 'vite-plugin-solid', library: 'solid-js' },
] as const;

/** Vite and the UI libraries built with it (React, Vue, Svelte, Preact, Solid): variants of one row */
export const VITE: FrameworkDefinition = {
  id: 'vite',
  name: 'Vite',
  detectors: { dependencies: ['vite'], configFiles: ['vite.config.js'] },
  buildCommand: 'vite build',
  outputDirectory: 'dist',
  immutable: [VITE_ASSETS],
  async detect(ctx: DetectContext): Promise<FrameworkMatch | undefined> {
    if (!ctx.has('vite')) return undefined;
    // the plugin says more than the library (a Vue app may depend on react for one widget)
    const variant = VITE_VARIANTS.find((v) => ctx.has(v.plugin)) ?? VITE_VARIANTS.find((v) => ctx.has(v.library));
    const config = await ctx.config('vite.config');
    const reason = because(variant === undefined ? 'vite' : ['vite', ctx.has(variant.plugin) ? variant.plugin : variant.library], config, []);
    return { id: 'vite', name: 'Vite', reason, variant: variant?.variant ?? 'vanilla', buildCommand: 'vite build', outputDirectory: relativePath(option(config, 'outDir')) ?? 'dist' };
  },
};

export const STATIC: FrameworkDefinition = {
  id: 'static',
  name: 'Static',
  detectors: { dependencies: [] },
  outputDirectory: '',
  immutable: [],
  async detect(ctx: DetectContext): Promise<FrameworkMatch | undefined> {
    const build = ctx.script('build');
    const html = await ctx.exists('index.html');
    if (build !== undefined) {
      // some other tool: its output folder is only known after the build (the build step takes the one of dist, build, out, public that the build made or changed)
      return { id: 'static', name: 'Static', variant: 'unknown', reason: 'no known framework; package.json has a build script', outputDirectory: '' };
    }
    const where = ctx.pkg !== undefined ? 'no build script in package.json' : (await ctx.exists('package.json')) ? 'a package.json that is not valid JSON' : 'no package.json';
    return {
      id: 'static',
      name: 'Static',
      variant: 'html',
      reason: html ? `index.html at the root and ${where}` : `no index.html and ${where}: the files are served as they are`,
      outputDirectory: '',
    };
  },
};
