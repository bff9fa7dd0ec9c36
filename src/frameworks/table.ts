import { booleanOption, importsModule, stringOption } from './config-text.js';
import type { ConfigFile, FrameworkDefinition, FrameworkMatch, ServerKind, StaticMount } from './types.js';

/*
 * The framework table, most specific first: a Remix or React Router app also depends on vite,
 * an Astro site may depend on react, a SvelteKit app on svelte and vite. The first row whose
 * detector returns a match wins; `static` is last and always matches.
 *
 * Config files are read as text, never run (see config-text.ts): a setting computed at run
 * time is not seen and the framework's default applies.
 */
export const FRAMEWORKS: readonly FrameworkDefinition[] = Object.freeze([
  {
    id: 'nextjs',
    name: 'Next.js',
    async detect(ctx): Promise<FrameworkMatch | undefined> {
      if (!ctx.has('next')) return undefined;
      const config = await ctx.config('next.config');
      const output = option(config, 'output');
      const distDir = relativePath(option(config, 'distDir')) ?? '.next';
      const legacyExport = /\bnext export\b/.test(ctx.script('build') ?? '');
      const base = { id: 'nextjs', name: 'Next.js', buildCommand: 'next build' } as const;
      if (output === 'export' || legacyExport) {
        const reason = output === 'export' ? because('next', config, ['output: "export"']) : because('next', config, [], ['"next export" in the build script']);
        // with output: 'export' a custom distDir names the export folder itself (Next 14+)
        return { ...base, reason, variant: 'static-export', outputDirectory: output === 'export' && distDir !== '.next' ? distDir : 'out', buildEnv: { NEXT_TELEMETRY_DISABLED: '1' } };
      }
      const entry = `${distDir}/standalone/server.js`;
      return {
        ...base,
        reason: because('next', config, output === undefined ? [] : [`output: "${output}"`]),
        variant: 'server',
        outputDirectory: distDir,
        server: server('nextjs-standalone', entry, ['node', entry], [{ dir: `${distDir}/static`, urlPath: '/_next/static' }, { dir: 'public', urlPath: '/' }]),
        // Standalone output without editing the user's config: NEXT_PRIVATE_STANDALONE=1 makes
        // `output: 'standalone'` Next's *default* (`output: !!process.env.NEXT_PRIVATE_STANDALONE ?
        // 'standalone' : undefined` in server/config-shared.ts, since 12.2 and still in 14, 15, 16),
        // so an explicit `output` in the user's config still wins. Netlify's and Firebase App
        // Hosting's Next.js adapters build this way. It is not a documented public API: when
        // .next/standalone is missing after a build, say so and suggest `output: 'standalone'`.
        // (__NEXT_PRIVATE_STANDALONE_CONFIG is not a build switch: the generated server.js sets it
        // at run time to the config captured at build time.)
        // https://github.com/vercel/next.js/pull/37994 (where `output` got this default)
        // https://github.com/firebase/apphosting-adapters/pull/119
        // https://nextjs.org/docs/app/api-reference/next-config-js/output
        buildEnv: { NEXT_TELEMETRY_DISABLED: '1', NEXT_PRIVATE_STANDALONE: '1' },
      };
    },
  },
  {
    id: 'nuxt',
    name: 'Nuxt',
    async detect(ctx): Promise<FrameworkMatch | undefined> {
      const dep = ['nuxt', 'nuxt3'].find((name) => ctx.has(name));
      if (dep === undefined) return undefined;
      const config = await ctx.config('nuxt.config');
      const preset = option(config, 'preset');
      const generate = /\bnux[ti] generate\b/.test(ctx.script('build') ?? '');
      const base = { id: 'nuxt', name: 'Nuxt', buildEnv: { NUXT_TELEMETRY_DISABLED: '1' } } as const;
      if (generate || preset === 'static') {
        const reason = generate ? because(dep, config, [], ['"nuxt generate" in the build script']) : because(dep, config, ['preset: "static"']);
        return { ...base, reason, variant: 'static', buildCommand: 'nuxt generate', outputDirectory: '.output/public' };
      }
      return {
        ...base,
        reason: because(dep, config, preset === undefined ? [] : [`preset: "${preset}"`]),
        variant: 'server',
        buildCommand: 'nuxt build',
        outputDirectory: '.output',
        server: server('nuxt-nitro', '.output/server/index.mjs', ['node', '.output/server/index.mjs'], [{ dir: '.output/public', urlPath: '/' }]),
        // Nitro picks its preset from the environment (a CI's variables) when the config names none
        buildEnv: preset === undefined ? { ...base.buildEnv, NITRO_PRESET: 'node-server' } : base.buildEnv,
      };
    },
  },
  {
    // before Remix: an app migrated from Remix may keep @remix-run/* dependencies
    id: 'react-router',
    name: 'React Router',
    async detect(ctx): Promise<FrameworkMatch | undefined> {
      const config = await ctx.config('react-router.config');
      if (!ctx.has('@react-router/dev') && config === undefined) return undefined;
      const dir = relativePath(option(config, 'buildDirectory')) ?? 'build';
      const ssr = config === undefined ? undefined : booleanOption(config.text, 'ssr');
      const reason = because(ctx.has('@react-router/dev') ? '@react-router/dev' : undefined, config, ssr === false ? ['ssr: false'] : []);
      const base = { id: 'react-router', name: 'React Router', reason, buildCommand: 'react-router build' } as const;
      if (ssr === false) return { ...base, variant: 'static', outputDirectory: `${dir}/client` };
      const entry = `${dir}/server/index.js`;
      return { ...base, variant: 'server', outputDirectory: dir, server: server('react-router-node', entry, ['node_modules/.bin/react-router-serve', entry], [{ dir: `${dir}/client`, urlPath: '/' }], '@react-router/serve') };
    },
  },
  {
    id: 'remix',
    name: 'Remix',
    async detect(ctx): Promise<FrameworkMatch | undefined> {
      const dep = ['@remix-run/dev', '@remix-run/node', '@remix-run/serve', '@remix-run/react'].find((name) => ctx.has(name));
      if (dep === undefined) return undefined;
      const vite = await ctx.config('vite.config');
      if (vite !== undefined && importsModule(vite.text, '@remix-run/dev')) {
        // Remix 2 with its Vite plugin: build/server/index.js + build/client
        const dir = relativePath(option(vite, 'buildDirectory')) ?? 'build';
        const entry = `${dir}/server/index.js`;
        const reason = because(dep, vite, ['the @remix-run/dev Vite plugin']);
        return { id: 'remix', name: 'Remix', reason, variant: 'vite', buildCommand: 'remix vite:build', outputDirectory: dir, server: server('remix-node', entry, ['node_modules/.bin/remix-serve', entry], [{ dir: `${dir}/client`, urlPath: '/' }], '@remix-run/serve') };
      }
      // the classic Remix compiler: build/index.js, browser assets in public/build served under /build
      const config = await ctx.config('remix.config');
      const entry = relativePath(option(config, 'serverBuildPath')) ?? 'build/index.js';
      return { id: 'remix', name: 'Remix', reason: because(dep, config, []), variant: 'classic', buildCommand: 'remix build', outputDirectory: 'build', server: server('remix-node', entry, ['node_modules/.bin/remix-serve', entry], [{ dir: 'public', urlPath: '/' }], '@remix-run/serve') };
    },
  },
  {
    id: 'sveltekit',
    name: 'SvelteKit',
    async detect(ctx): Promise<FrameworkMatch | undefined> {
      if (!ctx.has('@sveltejs/kit')) return undefined;
      const config = await ctx.config('svelte.config');
      const names = ['node', 'static', 'auto', 'vercel', 'netlify', 'cloudflare'];
      const imported = names.find((name) => config !== undefined && importsModule(config.text, `@sveltejs/adapter-${name}`));
      const adapter = imported ?? names.find((name) => ctx.has(`@sveltejs/adapter-${name}`));
      const reason = imported !== undefined ? because('@sveltejs/kit', config, [`@sveltejs/adapter-${imported}`]) : because(adapter === undefined ? '@sveltejs/kit' : ['@sveltejs/kit', `@sveltejs/adapter-${adapter}`], config, []);
      const base = { id: 'sveltekit', name: 'SvelteKit', reason, buildCommand: 'vite build' } as const;
      if (adapter === 'node') {
        const out = relativePath(option(config, 'out')) ?? 'build';
        // prerendered pages are written apart from the client files (about.html, about/__data.json), both served at /
        const mounts = [{ dir: `${out}/client`, urlPath: '/' }, { dir: `${out}/prerendered`, urlPath: '/' }];
        return { ...base, variant: 'node', outputDirectory: out, server: server('sveltekit-node', `${out}/index.js`, ['node', `${out}/index.js`], mounts) };
      }
      if (adapter === 'static') return { ...base, variant: 'static', outputDirectory: relativePath(option(config, 'pages')) ?? 'build' };
      // adapter-auto and the cloud adapters write nothing Slipway can run; the build log says so
      return { ...base, reason: `${reason}; no adapter Slipway can serve: use @sveltejs/adapter-node or @sveltejs/adapter-static`, variant: adapter ?? 'none', outputDirectory: 'build' };
    },
  },
  {
    id: 'astro',
    name: 'Astro',
    async detect(ctx): Promise<FrameworkMatch | undefined> {
      if (!ctx.has('astro')) return undefined;
      const config = await ctx.config('astro.config');
      const output = option(config, 'output');
      const outDir = relativePath(option(config, 'outDir')) ?? 'dist';
      const base = { id: 'astro', name: 'Astro', buildCommand: 'astro build', buildEnv: { ASTRO_TELEMETRY_DISABLED: '1' } } as const;
      if (output !== 'server' && output !== 'hybrid') return { ...base, reason: because('astro', config, output === undefined ? [] : [`output: "${output}"`]), variant: 'static', outputDirectory: outDir };
      const imported = config !== undefined && importsModule(config.text, '@astrojs/node');
      const nodeAdapter = imported || ctx.has('@astrojs/node');
      const reason = because(nodeAdapter && !imported ? ['astro', '@astrojs/node'] : 'astro', config, [`output: "${output}"`, ...(imported ? ['@astrojs/node'] : [])]);
      if (!nodeAdapter) return { ...base, reason: `${reason}; no @astrojs/node adapter, so there is no server Slipway can run`, variant: 'server', outputDirectory: outDir };
      const entry = `${outDir}/server/entry.mjs`;
      return { ...base, reason, variant: 'server', outputDirectory: outDir, server: server('astro-node', entry, ['node', entry], [{ dir: `${outDir}/client`, urlPath: '/' }]) };
    },
  },
  {
    id: 'vite',
    name: 'Vite',
    async detect(ctx): Promise<FrameworkMatch | undefined> {
      if (!ctx.has('vite')) return undefined;
      // the plugin says more than the library (a Vue app may depend on react for one widget)
      const variant = VITE_VARIANTS.find((v) => ctx.has(v.plugin)) ?? VITE_VARIANTS.find((v) => ctx.has(v.library));
      const config = await ctx.config('vite.config');
      const reason = because(variant === undefined ? 'vite' : ['vite', ctx.has(variant.plugin) ? variant.plugin : variant.library], config, []);
      return { id: 'vite', name: 'Vite', reason, variant: variant?.variant ?? 'vanilla', buildCommand: 'vite build', outputDirectory: relativePath(option(config, 'outDir')) ?? 'dist' };
    },
  },
  {
    id: 'static',
    name: 'Static',
    async detect(ctx): Promise<FrameworkMatch | undefined> {
      const build = ctx.script('build');
      const html = await ctx.exists('index.html');
      if (build !== undefined) {
        // some other tool: its output folder is only known after the build (the build step looks for dist, build, out, public)
        return { id: 'static', name: 'Static', variant: 'unknown', reason: 'no known framework; package.json has a build script', outputDirectory: '' };
      }
      const where = ctx.pkg !== undefined ? 'no build script in package.json' : (await ctx.exists('package.json')) ? 'a package.json that is not valid JSON' : 'no package.json';
      return { id: 'static', name: 'Static', variant: 'html', reason: html ? `index.html at the root and ${where}` : `no index.html and ${where}: the files are served as they are`, outputDirectory: '' };
    },
  },
] satisfies FrameworkDefinition[]);

const VITE_VARIANTS = [
  { variant: 'react', plugin: '@vitejs/plugin-react', library: 'react' },
  { variant: 'react', plugin: '@vitejs/plugin-react-swc', library: 'react' },
  { variant: 'vue', plugin: '@vitejs/plugin-vue', library: 'vue' },
  { variant: 'svelte', plugin: '@sveltejs/vite-plugin-svelte', library: 'svelte' },
  { variant: 'preact', plugin: '@preact/preset-vite', library: 'preact' },
  { variant: 'solid', plugin: 'vite-plugin-solid', library: 'solid-js' },
] as const;

function option(config: ConfigFile | undefined, key: string): string | undefined {
  return config === undefined ? undefined : stringOption(config.text, key);
}

/**
 * 'dependency "next" in package.json and output: "export" in next.config.ts': `configFacts`
 * were read from the config file, `otherFacts` from elsewhere (they say where themselves).
 */
function because(deps: string | readonly string[] | undefined, config: ConfigFile | undefined, configFacts: string[], otherFacts: string[] = []): string {
  const names = (deps === undefined ? [] : typeof deps === 'string' ? [deps] : deps).map((name) => `"${name}"`);
  const parts: string[] = [];
  if (names.length > 0) parts.push(`${names.length === 1 ? 'dependency' : 'dependencies'} ${names.join(' and ')} in package.json`);
  if (config !== undefined) parts.push(configFacts.length > 0 ? `${configFacts.join(' and ')} in ${config.file}` : config.file);
  return [...parts, ...otherFacts].join(' and ');
}

function server(kind: ServerKind, entry: string, start: string[], mounts: StaticMount[], startPackage?: string): NonNullable<FrameworkMatch['server']> {
  return { kind, entry, start, staticDir: mounts[0]?.dir, mounts, ...(startPackage === undefined ? {} : { startPackage }) };
}

/** A folder named in a config file, normalised, or undefined when it is absent, absolute or climbs out with "..". */
function relativePath(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const clean = value.trim().replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  if (clean === '' || clean === '.' || clean.startsWith('/') || /^[a-zA-Z]:/.test(clean) || clean.split(/[/\\]/).includes('..')) return undefined;
  return clean;
}


