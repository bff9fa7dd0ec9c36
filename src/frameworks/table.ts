import { ANGULAR, DOCUSAURUS, ELEVENTY, EMBER, EXPO, GATSBY, HEXO, PREACT_CLI, REDWOOD, STATIC, STORYBOOK, VITE, VITEPRESS } from './rows-static.js';
import { ANALOG, ASTRO, NEXTJS, NUXT, QWIK, REACT_ROUTER, REMIX, SOLIDSTART, SVELTEKIT } from './rows-server.js';
import type { FrameworkDefinition } from './types.js';

/*
 * The framework table, most specific first: the first row whose detector returns a match wins;
 * `static` is last and always matches. Order matters where projects overlap: a Remix or React
 * Router app also depends on vite, an Astro site may depend on react, a SvelteKit app on svelte
 * and vite, SolidStart, Qwik, VitePress and Redwood's web side build with Vite, an Eleventy site
 * may use Vite as a plugin, an Analog app is an Angular app built with Vite; Storybook sits in many apps' devDependencies, so it comes after all
 * of them.
 *
 * Why our own table and not @vercel/frameworks (which we learned from: its detectors, build
 * commands and output folders, its `/_nuxt/`, `/static/` (Gatsby) and `assets/` cache rules,
 * its "weak" Storybook detection): its rows describe Vercel's builders (`useRuntime:
 * '@vercel/next'`, routes for its own router), and say nothing about what Slipway needs to run
 * or refuse a build. Ours also carry the server bundle to run and its static mounts (Next.js
 * standalone, Nitro, adapter-node), the variants a config file selects (Next.js `output:
 * "export"`, SvelteKit's adapter, Astro's `output`), the unservable setups with the adapter to
 * use instead, the evidence for the build log, and the fingerprinted folders the edge caches
 * for a year. It also has rows Vercel's lacks (Qwik, Expo web), and it adds no dependency.
 */
export const FRAMEWORKS: readonly FrameworkDefinition[] = Object.freeze([
  NEXTJS,
  NUXT,
  SOLIDSTART,
  QWIK,
  // before Remix: an app migrated from Remix may keep @remix-run/* dependencies
  REACT_ROUTER,
  REMIX,
  SVELTEKIT,
  ASTRO,
  REDWOOD,
  GATSBY,
  DOCUSAURUS,
  VITEPRESS,
  // before Angular: an Analog app depends on @angular/core too (and may keep an angular.json)
  ANALOG,
  ANGULAR,
  EXPO,
  EMBER,
  ELEVENTY,
  HEXO,
  PREACT_CLI,
  VITE,
  STORYBOOK,
  STATIC,
]);
