import { booleanOption, importsModule } from './config-text.js';
import { because, option, relativePath, server, VITE_ASSETS } from './row-helpers.js';
import type { FrameworkDefinition, FrameworkMatch } from './types.js';

/*
 * Rows for the frameworks that may build a server (SSR), or need an adapter to be servable, in
 * the order the table tries them (table.ts). Config files are read as text, never run (see
 * config-text.ts): a setting computed at run time is not seen and the framework's default applies.
 */

export const NEXTJS: FrameworkDefinition = {
  id: 'nextjs',
  name: 'Next.js',
  detectors: { dependencies: ['next'], configFiles: ['next.config.js'] },
  buildCommand: 'next build',
  outputDirectory: '.next',
  immutable: [{ prefix: '_next/static/', names: 'all' }],
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
      server: server(
        'nextjs-standalone',
        entry,
        ['node', entry],
        [
          { dir: `${distDir}/static`, urlPath: '/_next/static' },
          { dir: 'public', urlPath: '/' },
        ],
        { bundleDir: `${distDir}/standalone` },
      ),
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
};

export const NUXT: FrameworkDefinition = {
  id: 'nuxt',
  name: 'Nuxt',
  detectors: { dependencies: ['nuxt', 'nuxt3'], configFiles: ['nuxt.config.ts'] },
  buildCommand: 'nuxt build',
  outputDirectory: '.output',
  // _nuxt/builds/ keeps latest.json under a fixed name (the app manifest Nuxt polls for new deployments)
  immutable: [{ prefix: '_nuxt/', names: 'all', except: ['_nuxt/builds/'] }],
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
      server: server('nuxt-nitro', '.output/server/index.mjs', ['node', '.output/server/index.mjs'], [{ dir: '.output/public', urlPath: '/' }], { bundleDir: '.output' }),
      // Nitro picks its preset from the environment (a CI's variables) when the config names none
      buildEnv: preset === undefined ? { ...base.buildEnv, NITRO_PRESET: 'node-server' } : base.buildEnv,
    };
  },
};

// before Remix: an app migrated from Remix may keep @remix-run/* dependencies
export const REACT_ROUTER: FrameworkDefinition = {
  id: 'react-router',
  name: 'React Router',
  detectors: { dependencies: ['@react-router/dev'], configFiles: ['react-router.config.ts'] },
  buildCommand: 'react-router build',
  outputDirectory: 'build',
  immutable: [VITE_ASSETS],
  async detect(ctx): Promise<FrameworkMatch | undefined> {
    const config = await ctx.config('react-router.config');
    if (!ctx.has('@react-router/dev') && config === undefined) return undefined;
    const dir = relativePath(option(config, 'buildDirectory')) ?? 'build';
    const ssr = config === undefined ? undefined : booleanOption(config.text, 'ssr');
    const reason = because(ctx.has('@react-router/dev') ? '@react-router/dev' : undefined, config, ssr === false ? ['ssr: false'] : []);
    const base = { id: 'react-router', name: 'React Router', reason, buildCommand: 'react-router build' } as const;
    if (ssr === false) return { ...base, variant: 'static', outputDirectory: `${dir}/client` };
    const entry = `${dir}/server/index.js`;
    return {
      ...base,
      variant: 'server',
      outputDirectory: dir,
      server: server('react-router-node', entry, ['node_modules/.bin/react-router-serve', entry], [{ dir: `${dir}/client`, urlPath: '/' }], { startPackage: '@react-router/serve' }),
    };
  },
};

export const REMIX: FrameworkDefinition = {
  id: 'remix',
  name: 'Remix',
  detectors: { dependencies: ['@remix-run/dev', '@remix-run/node', '@remix-run/serve', '@remix-run/react'], configFiles: ['vite.config.ts', 'remix.config.js'] },
  buildCommand: 'remix vite:build',
  outputDirectory: 'build',
  // the Vite plugin's assets/; the classic compiler's public/build, served under /build
  immutable: [VITE_ASSETS],
  async detect(ctx): Promise<FrameworkMatch | undefined> {
    const dep = ['@remix-run/dev', '@remix-run/node', '@remix-run/serve', '@remix-run/react'].find((name) => ctx.has(name));
    if (dep === undefined) return undefined;
    const vite = await ctx.config('vite.config');
    if (vite !== undefined && importsModule(vite.text, '@remix-run/dev')) {
      // Remix 2 with its Vite plugin: build/server/index.js + build/client
      const dir = relativePath(option(vite, 'buildDirectory')) ?? 'build';
      const entry = `${dir}/server/index.js`;
      const reason = because(dep, vite, ['the @remix-run/dev Vite plugin']);
      return {
        id: 'remix',
        name: 'Remix',
        reason,
        variant: 'vite',
        buildCommand: 'remix vite:build',
        outputDirectory: dir,
        server: server('remix-node', entry, ['node_modules/.bin/remix-serve', entry], [{ dir: `${dir}/client`, urlPath: '/' }], { startPackage: '@remix-run/serve' }),
      };
    }
    // the classic Remix compiler: build/index.js, browser assets in public/build served under /build
    const config = await ctx.config('remix.config');
    const entry = relativePath(option(config, 'serverBuildPath')) ?? 'build/index.js';
    return {
      id: 'remix',
      name: 'Remix',
      reason: because(dep, config, []),
      variant: 'classic',
      buildCommand: 'remix build',
      outputDirectory: 'build',
      immutable: [{ prefix: 'build/', names: 'all' }],
      server: server('remix-node', entry, ['node_modules/.bin/remix-serve', entry], [{ dir: 'public', urlPath: '/' }], { startPackage: '@remix-run/serve' }),
    };
  },
};

export const SVELTEKIT: FrameworkDefinition = {
  id: 'sveltekit',
  name: 'SvelteKit',
  detectors: { dependencies: ['@sveltejs/kit'], configFiles: ['svelte.config.js'] },
  buildCommand: 'vite build',
  outputDirectory: 'build',
  immutable: [{ prefix: '_app/immutable/', names: 'all' }],
  async detect(ctx): Promise<FrameworkMatch | undefined> {
    if (!ctx.has('@sveltejs/kit')) return undefined;
    // the adapter is set in svelte.config, or (sv 0.17's starters) in vite.config's sveltekit({ adapter })
    const names = ['node', 'static', 'auto', 'vercel', 'netlify', 'cloudflare'];
    const configs = [await ctx.config('svelte.config'), await ctx.config('vite.config')];
    const importing = (name: string) => configs.find((c) => c !== undefined && importsModule(c.text, `@sveltejs/adapter-${name}`));
    const imported = names.find((name) => importing(name) !== undefined);
    const config = (imported === undefined ? undefined : importing(imported)) ?? configs[0];
    const adapter = imported ?? names.find((name) => ctx.has(`@sveltejs/adapter-${name}`));
    const reason =
      imported !== undefined
        ? because('@sveltejs/kit', config, [`@sveltejs/adapter-${imported}`])
        : because(adapter === undefined ? '@sveltejs/kit' : ['@sveltejs/kit', `@sveltejs/adapter-${adapter}`], config, []);
    const base = { id: 'sveltekit', name: 'SvelteKit', reason, buildCommand: 'vite build' } as const;
    if (adapter === 'node') {
      const out = relativePath(option(config, 'out')) ?? 'build';
      // prerendered pages are written apart from the client files (about.html, about/__data.json), both served at /
      const mounts = [
        { dir: `${out}/client`, urlPath: '/' },
        { dir: `${out}/prerendered`, urlPath: '/' },
      ];
      return { ...base, variant: 'node', outputDirectory: out, server: server('sveltekit-node', `${out}/index.js`, ['node', `${out}/index.js`], mounts) };
    }
    if (adapter === 'static') return { ...base, variant: 'static', outputDirectory: relativePath(option(config, 'pages')) ?? 'build' };
    // adapter-auto and the cloud adapters write nothing Slipway can run (adapter-auto finds no platform and writes only .svelte-kit)
    const unservable = {
      message: `SvelteKit ${adapter === undefined ? 'without an adapter' : `with @sveltejs/adapter-${adapter}`} builds no output Slipway can serve.`,
      hint: 'Use @sveltejs/adapter-node (a Node server) or @sveltejs/adapter-static (a static site) in svelte.config.js, and add it to devDependencies.',
    };
    return { ...base, reason: `${reason}; no adapter Slipway can serve: use @sveltejs/adapter-node or @sveltejs/adapter-static`, variant: adapter ?? 'none', outputDirectory: 'build', unservable };
  },
};

export const ASTRO: FrameworkDefinition = {
  id: 'astro',
  name: 'Astro',
  detectors: { dependencies: ['astro'], configFiles: ['astro.config.mjs'] },
  buildCommand: 'astro build',
  outputDirectory: 'dist',
  immutable: [{ prefix: '_astro/', names: 'all' }],
  async detect(ctx): Promise<FrameworkMatch | undefined> {
    if (!ctx.has('astro')) return undefined;
    const config = await ctx.config('astro.config');
    const output = option(config, 'output');
    const outDir = relativePath(option(config, 'outDir')) ?? 'dist';
    const base = { id: 'astro', name: 'Astro', buildCommand: 'astro build', buildEnv: { ASTRO_TELEMETRY_DISABLED: '1' } } as const;
    if (output !== 'server' && output !== 'hybrid')
      return { ...base, reason: because('astro', config, output === undefined ? [] : [`output: "${output}"`]), variant: 'static', outputDirectory: outDir };
    const imported = config !== undefined && importsModule(config.text, '@astrojs/node');
    const nodeAdapter = imported || ctx.has('@astrojs/node');
    const reason = because(nodeAdapter && !imported ? ['astro', '@astrojs/node'] : 'astro', config, [`output: "${output}"`, ...(imported ? ['@astrojs/node'] : [])]);
    if (!nodeAdapter) {
      const unservable = {
        message: `Astro with output: "${output}" needs a server adapter, and the project has none Slipway can run.`,
        hint: 'Add @astrojs/node (adapter: node({ mode: "standalone" })) to astro.config, or set output: "static".',
      };
      return { ...base, reason: `${reason}; no @astrojs/node adapter, so there is no server Slipway can run`, variant: 'server', outputDirectory: outDir, unservable };
    }
    const entry = `${outDir}/server/entry.mjs`;
    return { ...base, reason, variant: 'server', outputDirectory: outDir, server: server('astro-node', entry, ['node', entry], [{ dir: `${outDir}/client`, urlPath: '/' }]) };
  },
};

// SolidStart 1.x builds with vinxi on Nitro: the same .output layout as Nuxt
export const SOLIDSTART: FrameworkDefinition = {
  id: 'solidstart',
  name: 'SolidStart',
  detectors: { dependencies: ['@solidjs/start'], configFiles: ['app.config.ts'] },
  buildCommand: 'vinxi build',
  outputDirectory: '.output',
  immutable: [{ prefix: '_build/assets/', names: 'all' }],
  async detect(ctx): Promise<FrameworkMatch | undefined> {
    if (!ctx.has('@solidjs/start')) return undefined;
    const config = await ctx.config('app.config');
    const preset = option(config, 'preset');
    const base = { id: 'solidstart', name: 'SolidStart', buildCommand: 'vinxi build' } as const;
    if (preset === 'static') return { ...base, reason: because('@solidjs/start', config, ['preset: "static"']), variant: 'static', outputDirectory: '.output/public' };
    const entry = '.output/server/index.mjs';
    return {
      ...base,
      reason: because('@solidjs/start', config, preset === undefined ? [] : [`preset: "${preset}"`]),
      variant: 'server',
      outputDirectory: '.output',
      server: server('nitro-node', entry, ['node', entry], [{ dir: '.output/public', urlPath: '/' }], { bundleDir: '.output' }),
      ...(preset === undefined ? { buildEnv: { NITRO_PRESET: 'node-server' } } : {}),
    };
  },
};

// Qwik City renders on a server unless an adapter says otherwise; Slipway serves its static adapter's output
export const QWIK: FrameworkDefinition = {
  id: 'qwik',
  name: 'Qwik',
  detectors: { dependencies: ['@builder.io/qwik-city', '@builder.io/qwik', '@qwik.dev/router', '@qwik.dev/core'], configFiles: ['adapters/static/vite.config.ts', 'vite.config.ts'] },
  buildCommand: 'qwik build',
  outputDirectory: 'dist',
  // build/ holds only q-<hash>.js chunks
  immutable: [{ prefix: 'build/', names: 'all' }, VITE_ASSETS],
  async detect(ctx): Promise<FrameworkMatch | undefined> {
    const dep = QWIK.detectors.dependencies.find((name) => ctx.has(name));
    if (dep === undefined) return undefined;
    const city = ctx.has('@builder.io/qwik-city') || ctx.has('@qwik.dev/router');
    const adapter = await ctx.config('adapters/static/vite.config');
    const base = { id: 'qwik', name: 'Qwik', buildCommand: 'qwik build', outputDirectory: 'dist' } as const;
    if (adapter !== undefined) return { ...base, reason: because(dep, adapter, ['the static adapter']), variant: 'static' };
    if (!city) return { ...base, reason: because(dep, await ctx.config('vite.config'), []), variant: 'static' };
    const unservable = {
      message: 'Qwik City without an adapter renders every page on a server, and builds no site Slipway can serve.',
      hint: 'Add the static adapter ("npm run qwik add static", which writes adapters/static/vite.config.ts).',
    };
    return { ...base, reason: `${because(dep, undefined, [])}; no adapters/static/vite.config: Qwik City needs an adapter`, variant: 'server', unservable };
  },
};

// Analog (Angular's meta-framework) builds with Vite and Nitro: dist/analog/public for the
// browser, dist/analog/server/index.mjs for the server, the same layout as SolidStart's .output
export const ANALOG: FrameworkDefinition = {
  id: 'analog',
  name: 'Analog',
  detectors: { dependencies: ['@analogjs/platform'], configFiles: ['vite.config.ts'] },
  buildCommand: 'vite build',
  outputDirectory: 'dist/analog',
  immutable: [VITE_ASSETS],
  async detect(ctx): Promise<FrameworkMatch | undefined> {
    if (!ctx.has('@analogjs/platform')) return undefined;
    const config = await ctx.config('vite.config');
    const text = config?.text ?? '';
    // analog({ ssr: false }) is a single-page app, analog({ static: true }) prerenders every route
    const ssr = booleanOption(text, 'ssr');
    const prerendered = booleanOption(text, 'static') === true;
    const preset = option(config, 'preset');
    const base = { id: 'analog', name: 'Analog', buildCommand: 'vite build' } as const;
    if (ssr === false || prerendered || preset === 'static') {
      const facts = ssr === false ? ['ssr: false'] : prerendered ? ['static: true'] : ['preset: "static"'];
      return { ...base, reason: because('@analogjs/platform', config, facts), variant: 'static', outputDirectory: 'dist/analog/public' };
    }
    const entry = 'dist/analog/server/index.mjs';
    return {
      ...base,
      reason: because('@analogjs/platform', config, preset === undefined ? [] : [`preset: "${preset}"`]),
      variant: 'server',
      outputDirectory: 'dist/analog',
      server: server('nitro-node', entry, ['node', entry], [{ dir: 'dist/analog/public', urlPath: '/' }], { bundleDir: 'dist/analog' }),
      ...(preset === undefined ? { buildEnv: { NITRO_PRESET: 'node-server' } } : {}),
    };
  },
};
