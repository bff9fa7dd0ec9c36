import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { IMMUTABLE } from '../../src/edge/cache-control.js';
import { makeRepo } from '../helpers/git.js';
import { fixturesDir, tempDir } from '../helpers/paths.js';
import { edgeGet, pushPayload, sendWebhook, startSlipwayProcess, waitForStatus, type RunningSlipway } from '../helpers/slipway.js';

/*
 * Apps inside monorepos, pushed and deployed with one setting, rootDirectory "apps/web": the
 * server bundle the runtime gets must start on its own (in its sandbox, on the Node.js the build
 * ran on), with the packages npm or pnpm put at the workspace root. Through the edge: the page
 * the server renders with a workspace package, a fingerprinted asset served by the edge with
 * the immutable header, a file from the app's public folder, and a 404.
 */

interface App {
  fixture: string;
  /** what the server renders at / */
  home: RegExp;
  asset: RegExp;
  /** a file of the app's static folder, and its text */
  file: [string, string];
  /** a line the build log must hold */
  log?: RegExp;
}

const APPS: App[] = [
  // Next.js traces from the workspace root: server.js is .next/standalone/apps/web/server.js
  {
    fixture: 'mono-next-standalone',
    home: /Hello, (<!-- -->)?monorepo(<!-- -->)?, from @mono\/greeting/,
    asset: /\/_next\/static\/chunks\/[^"?]+\.js/,
    file: ['/hello.txt', 'a file from apps/web/public\n'],
    log: /^Next\.js traced the standalone output from the workspace root: its server is \.next\/standalone\/apps\/web\/server\.js$/m,
  },
  // adapter-node imports ms and @mono/greeting at run time from the workspace root's node_modules
  { fixture: 'mono-sveltekit-node', home: /<h1>Hello, kit, from @mono\/greeting<\/h1>[\s\S]*172800000/, asset: /\/_app\/immutable\/[^"]+\.js/, file: ['/robots.txt', 'User-agent: *\n'] },
  // Nitro traces ms (and inlines @mono/greeting) from the workspace root into .output; engines.node 22.x picks the
  // Node.js; its app.vue answers any path but / with a 404
  { fixture: 'mono-nuxt', home: /<h1>Hello, nuxt, from @mono\/greeting<\/h1>[\s\S]*172800000/, asset: /\/_nuxt\/[^"]+\.js/, file: ['/hello.txt', 'a file from apps/web/public\n'] },
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

for (const app of APPS) {
  test(`${app.fixture}: rootDirectory apps/web deploys from a push and its server answers through the edge`, { timeout: 600_000 }, async (t) => {
    const name = app.fixture;
    const repo = await makeRepo(join(dir.path, name));
    const sha = await repo.commitFixture(join(fixturesDir, app.fixture), 'a monorepo');
    await repo.push();
    const created = await slipway.api('POST', '/api/v1/projects', { name, repoUrl: repo.url, rootDirectory: 'apps/web' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const pushed = await sendWebhook(slipway.apiUrl, name, created.body.webhookSecret, pushPayload({ ref: 'refs/heads/main', after: sha, repoUrl: repo.url }));
    assert.equal(pushed.status, 202, JSON.stringify(pushed.body));
    const d = await waitForStatus(slipway, pushed.body.deploymentId, ['ready', 'failed'], 540_000);
    if (d.status !== 'ready') {
      const logs = await slipway.api('GET', `/api/v1/deployments/${d.id}/logs?limit=5000`);
      assert.fail(
        `${name} ${d.status}: ${JSON.stringify(d.error)}\n${logs.body.lines
          .slice(-40)
          .map((l: { text: string }) => l.text)
          .join('\n')}`,
      );
    }
    t.diagnostic(`${name}: ${d.build.framework.id}/${d.build.framework.variant}, ${JSON.stringify(d.timings)}`);
    if (app.log !== undefined) {
      const logs = await slipway.api('GET', `/api/v1/deployments/${d.id}/logs?limit=5000`);
      assert.match(logs.body.lines.map((l: { text: string }) => l.text).join('\n'), app.log);
    }

    const host = `${name}.localhost`;
    const home = await edgeGet(slipway.edgePort, host, '/');
    assert.equal(home.status, 200, home.text.slice(0, 500));
    assert.match(home.text, app.home);

    const assetPath = app.asset.exec(home.text)?.[0];
    assert.ok(assetPath !== undefined, `the page references an asset like ${app.asset}`);
    const asset = await edgeGet(slipway.edgePort, host, assetPath);
    assert.equal(asset.status, 200, assetPath);
    assert.equal(asset.headers['cache-control'], IMMUTABLE, assetPath);

    const [path, text] = app.file;
    const file = await edgeGet(slipway.edgePort, host, path);
    assert.equal(file.status, 200, path);
    assert.equal(file.text, text);

    const missing = await edgeGet(slipway.edgePort, host, '/no-such-page-4f7c2a');
    assert.equal(missing.status, 404, missing.text.slice(0, 300));
  });
}
