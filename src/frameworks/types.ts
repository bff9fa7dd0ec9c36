import type { ImmutableRule } from '../manifest/index.js';

/** What detectFramework concluded about a project, and how Slipway should build and serve it. */
export interface FrameworkMatch {
  id: FrameworkId;
  /** for people: "Next.js" */
  name: string;
  /** the evidence, for the build log: 'dependency "next" in package.json and output: "export" in next.config.ts' */
  reason: string;
  /** 'react' | 'vue' | 'svelte' | 'vanilla' for Vite; 'static-export' | 'server' for Next.js; 'static' | 'server' for Astro ... */
  variant?: string;
  /** what to run when package.json has no build script, e.g. "next build" */
  buildCommand?: string;
  /**
   * Relative to the project root. For a static site: the folder to serve. For a server build:
   * the folder the build writes (server and client files both live below it, except Next.js'
   * `public/`, see `server.mounts`). '' means the root itself (plain HTML).
   */
  outputDirectory: string;
  /** present when the build yields a Node server to run (SSR) */
  server?: ServerOutput;
  /** environment the build needs for this framework, e.g. NEXT_TELEMETRY_DISABLED=1 */
  buildEnv?: Record<string, string>;
  /** the framework's fingerprinted files (URL path prefixes), for the edge's Cache-Control; the row's, unless the variant lays them out otherwise */
  immutable?: ImmutableRule[];
  /** run buildCommand even when package.json has a build script (Storybook: the app's own build makes something else) */
  ignoreBuildScript?: boolean;
  /**
   * set when this setup builds nothing Slipway can serve (SvelteKit's adapter-auto, Astro's
   * server output without @astrojs/node): the deployment fails after the build with this, unless
   * the project sets outputDirectory
   */
  unservable?: { message: string; hint: string };
}

export type FrameworkId =
  | 'nextjs'
  | 'astro'
  | 'vite'
  | 'sveltekit'
  | 'nuxt'
  | 'remix'
  | 'react-router'
  | 'vitepress'
  | 'docusaurus'
  | 'eleventy'
  | 'gatsby'
  | 'hexo'
  | 'angular'
  | 'analog'
  | 'solidstart'
  | 'qwik'
  | 'ember'
  | 'redwood'
  | 'expo'
  | 'storybook'
  | 'preact-cli'
  | 'static';

export type ServerKind = 'nextjs-standalone' | 'astro-node' | 'sveltekit-node' | 'nuxt-nitro' | 'nitro-node' | 'remix-node' | 'react-router-node' | 'angular-node';

export interface ServerOutput {
  kind: ServerKind;
  /** the server module, relative to the root: ".next/standalone/server.js", "build/index.js" */
  entry: string;
  /** a self-contained bundle folder the server runs from (".next/standalone", ".output"); absent: the root, with its node_modules */
  bundleDir?: string;
  /** argv that starts the server from the root (PORT and HOST/HOSTNAME pick the address); tools from node_modules/.bin */
  start: string[];
  /** the package that installs start[0] when it is a node_modules/.bin tool, e.g. "@react-router/serve" (named in the error when it is missing) */
  startPackage?: string;
  /** static files the edge can serve itself instead of proxying, relative to the root */
  staticDir?: string;
  /** every static folder and the URL path it is served under; staticDir is the first */
  mounts: StaticMount[];
}

export interface StaticMount {
  /** relative to the project root */
  dir: string;
  /** URL path prefix, "/" or "/_next/static" */
  urlPath: string;
}

/** What a detector may look at. Everything is cached: detectors may ask the same thing twice. */
export interface DetectContext {
  rootDir: string;
  /** parsed package.json, undefined when there is none (or it is not JSON) */
  pkg: Record<string, unknown> | undefined;
  /** dependencies and devDependencies, name -> version range */
  deps: ReadonlyMap<string, string>;
  /** true when `name` is in dependencies or devDependencies */
  has(name: string): boolean;
  /** a package.json script, undefined when absent or empty */
  script(name: string): string | undefined;
  /** true when the relative path is a file */
  exists(file: string): Promise<boolean>;
  /** the file's text, undefined when it is missing or unreadable */
  read(file: string): Promise<string | undefined>;
  /** the first `<base>.{js,mjs,cjs,ts,mts,cts}` that exists, with its text (comments removed) */
  config(base: string): Promise<ConfigFile | undefined>;
}

export interface ConfigFile {
  file: string;
  /** the text with comments removed, for the heuristics in config-text.ts */
  text: string;
}

/**
 * One row of the table: what a framework looks like and how it is built. The data fields say
 * it for people and tests (and for the simple rows they are all there is, see `row()` in
 * table.ts); `detect` reads the project and may refine them per variant (a config's outDir, an
 * adapter).
 */
export interface FrameworkDefinition {
  id: FrameworkId;
  name: string;
  /** the evidence: any of these dependencies (in dependencies or devDependencies), and/or any of these config files */
  detectors: { dependencies: readonly string[]; configFiles?: readonly string[] };
  /** what the build runs when package.json has no build script */
  buildCommand?: string;
  /** where the framework writes by default, relative to the project root */
  outputDirectory: string;
  /** its fingerprinted asset folders, as manifest path prefixes */
  immutable: readonly ImmutableRule[];
  /** a match, or undefined when the project is not this framework */
  detect(ctx: DetectContext): Promise<FrameworkMatch | undefined>;
}
