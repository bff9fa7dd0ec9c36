import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { IMMUTABLE } from '../../src/edge/cache-control.js';
import { makeRepo } from '../helpers/git.js';
import { tempDir } from '../helpers/paths.js';
import { materializeStarter } from '../helpers/starters.js';
import { edgeGet, pushPayload, sendWebhook, startSlipwayProcess, waitForStatus, type RunningSlipway } from '../helpers/slipway.js';

/*
 * Real starters that nobody here wrote, as the frameworks publish them (test/fixtures/starters/
 * <name>/SOURCE.md says where each comes from and what, if anything, is pinned), each pushed to
 * its own bare repository and deployed with no settings at all. Through the edge: the home page
 * answers with the starter's own text, a fingerprinted asset it references answers with the
 * immutable cache header, and an unknown path is a 404.
 *
 * One Slipway process for the whole file and one build at a time. Ten first builds (nothing is
 * in Slipway's dependency cache) took 140 s on this 2-core machine with npm's own download
 * cache warm, and about 7 minutes with it cold on a busy machine: npm ci dominates
 * (Docusaurus 27-80 s, Next.js 17-40 s), then `next build` (7-45 s).
 * Run one starter with --test-name-pattern=<name>.
 *
 * SvelteKit's minimal starter (`sv create`, whose package bundles its templates) comes twice:
 * as created, with the default @sveltejs/adapter-auto, whose deployment must fail naming the
 * adapters to use; and after `sv add sveltekit-adapter=adapter:node`, which deploys.
 *
 * Left out, and why (checked on main at 4e202b0):
 * - Next.js's default starter (`create-next-app --yes`): `next build` fails with "Failed to
 *   fetch Geist from Google Fonts" (next/font/google downloads at build time; this machine
 *   reaches only package registries). next-empty is the same starter without the font.
 * - create-vite's qwik-ts: `npm install` fails with ETARGET, "No matching version found for
 *   @builder.io/qwik@^1.20.2": this registry does not have that release.
 * - VitePress (`vitepress init`): it only asks questions, and its template has `<%= title %>`
 *   placeholders, so there is no published form to take as it is.
 * - Astro (create-astro), Nuxt (create-nuxt), React Router (create-react-router) and Solid
 *   (create-solid): their npm packages carry no template; they download one from GitHub at
 *   run time (giget / codeload), which this machine cannot reach. Current Astro and Nuxt also
 *   need Node >= 22 (issue 8's Node.js part).
 */

interface Starter {
  name: string;
  /** text the home page must contain */
  home: RegExp;
  /** a fingerprinted asset URL the home page references */
  asset: RegExp;
  assetType: RegExp;
  /**
   * the starter's own router answers every path (Angular's `**` route): an unknown path is its
   * app shell with 200, not a 404; what must hold is that nothing unbuilt is served as a file
   */
  everyPathRenders?: true;
}

const viteAsset = /\/assets\/index-[\w-]{8}\.js/;
// create-vite writes the project's name into index.html's <title>
const vite = (name: string): Starter => ({ name, home: new RegExp(`<title>${name}</title>`), asset: viteAsset, assetType: /javascript/ });

const STARTERS: Starter[] = [
  vite('vite-react-ts'),
  vite('vite-vue-ts'),
  vite('vite-svelte-ts'),
  vite('vite-vanilla-ts'),
  vite('vite-preact-ts'),
  vite('vite-solid-ts'),
  vite('vite-lit-ts'),
  { name: 'preact-base', home: /<title>Vite \+ Preact<\/title>/, asset: viteAsset, assetType: /javascript/ },
  // server-rendered by Next's standalone server; /_next/static is served by the edge
  { name: 'next-empty', home: /Hello world!/, asset: /\/_next\/static\/[^"?]+\.js/, assetType: /javascript/ },
  // SSR by adapter-node's server; /_app/immutable is served by the edge
  { name: 'sveltekit-minimal-node', home: /<h1>Welcome to SvelteKit<\/h1>/, asset: /\/_app\/immutable\/[^"]+\.js/, assetType: /javascript/ },
  // Angular's SSR starter (`ng new --ssr`): the @angular/ssr Express server, every route
  // prerendered by the starter's `**` rule; esbuild names its bundles main-<HASH>.js, linked relative to <base href="/">
  { name: 'angular-ssr', home: /Hello, angular-ssr/, asset: /(?<=src=")main-[A-Z0-9]{8}\.js(?=")/, assetType: /javascript/, everyPathRenders: true },
  // every page prerendered; webpack/rspack names its bundles main.<contenthash>.js
  { name: 'docusaurus-classic', home: /Dinosaurs are cool/, asset: /\/assets\/js\/main\.[0-9a-f]{8,}\.js/, assetType: /javascript/ },
];

let dir: Awaited<ReturnType<typeof tempDir>>;
let slipway: RunningSlipway;

before(async () => {
  dir = await tempDir();
  slipway = await startSlipwayProcess(join(dir.path, 'data'), ['--edge-workers', '0']);
});

after(async () => {
  await slipway?.stop();
  await dir?.cleanup();
});

for (const starter of STARTERS) {
  test(`${starter.name}: pushed as published, deployed with no settings, its page, an asset and a 404 answer through the edge`, { timeout: 600_000 }, async (t) => {
    const repo = await makeRepo(join(dir.path, starter.name));
    await materializeStarter(starter.name, repo.work);
    const sha = await repo.commit({}, `${starter.name} as published`);
    await repo.push();

    const created = await slipway.api('POST', '/api/v1/projects', { name: starter.name, repoUrl: repo.url });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const pushed = await sendWebhook(slipway.apiUrl, starter.name, created.body.webhookSecret, pushPayload({ ref: 'refs/heads/main', after: sha, repoUrl: repo.url }));
    assert.equal(pushed.status, 202, JSON.stringify(pushed.body));
    const d = await waitForStatus(slipway, pushed.body.deploymentId, ['ready', 'failed'], 540_000);
    if (d.status !== 'ready') {
      const logs = await slipway.api('GET', `/api/v1/deployments/${d.id}/logs?limit=5000`);
      assert.fail(
        `${starter.name} ${d.status}: ${JSON.stringify(d.error)}\n${logs.body.lines
          .slice(-40)
          .map((l: { text: string }) => l.text)
          .join('\n')}`,
      );
    }
    t.diagnostic(`${starter.name}: ${d.build.framework.id}/${d.build.framework.variant}, ${JSON.stringify(d.timings)}`);

    const host = `${starter.name}.localhost`;
    const home = await edgeGet(slipway.edgePort, host, '/');
    assert.equal(home.status, 200, home.text.slice(0, 500));
    assert.match(String(home.headers['content-type']), /^text\/html/);
    assert.match(home.text, starter.home);
    assert.equal(home.headers['x-slipway-deployment'], d.id);

    const linked = starter.asset.exec(home.text)?.[0];
    const assetPath = linked === undefined || linked.startsWith('/') ? linked : `/${linked}`;
    assert.ok(assetPath !== undefined, `the home page references an asset like ${starter.asset}:\n${home.text.slice(0, 2000)}`);
    const asset = await edgeGet(slipway.edgePort, host, assetPath);
    assert.equal(asset.status, 200, assetPath);
    assert.match(String(asset.headers['content-type']), starter.assetType, assetPath);
    assert.ok(asset.body.length > 0, assetPath);
    assert.equal(asset.headers['cache-control'], IMMUTABLE, `${assetPath} is fingerprinted, so it is cached for a year`);

    const missing = await edgeGet(slipway.edgePort, host, '/no-such-page-4f7c2a');
    const missingAsset = await edgeGet(slipway.edgePort, host, assetPath.replace(/\.js$/, '-gone.js'));
    if (starter.everyPathRenders === true) {
      // the app's own router renders it (the server's answer, not a file of the build)
      assert.equal(missing.status, 200, missing.text.slice(0, 500));
      assert.match(String(missing.headers['content-type']), /^text\/html/);
      assert.doesNotMatch(String(missingAsset.headers['content-type']), starter.assetType, 'an asset that was not built is not served');
    } else {
      assert.equal(missing.status, 404, missing.text.slice(0, 500));
      assert.equal(missingAsset.status, 404, 'an asset that was not built is not served');
    }
  });
}

test('sveltekit-minimal: with the default adapter-auto the deployment fails, naming the adapters to use, and nothing is served', { timeout: 600_000 }, async () => {
  const name = 'sveltekit-minimal';
  const repo = await makeRepo(join(dir.path, name));
  await materializeStarter(name, repo.work);
  const sha = await repo.commit({}, `${name} as published`);
  await repo.push();
  const created = await slipway.api('POST', '/api/v1/projects', { name, repoUrl: repo.url });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const pushed = await sendWebhook(slipway.apiUrl, name, created.body.webhookSecret, pushPayload({ ref: 'refs/heads/main', after: sha, repoUrl: repo.url }));
  assert.equal(pushed.status, 202, JSON.stringify(pushed.body));
  const d = await waitForStatus(slipway, pushed.body.deploymentId, ['ready', 'failed'], 540_000);
  assert.equal(d.status, 'failed', JSON.stringify(d));
  // the build itself ran (vite build); what it made is not servable
  assert.match(JSON.stringify(d.error), /SvelteKit with @sveltejs\/adapter-auto builds no output Slipway can serve/);
  assert.match(JSON.stringify(d.error), /@sveltejs\/adapter-node.*@sveltejs\/adapter-static/);
  const home = await edgeGet(slipway.edgePort, `${name}.localhost`, '/package.json');
  assert.equal(home.status, 404, 'no alias points at a failed deployment: the repository is not served');
});
