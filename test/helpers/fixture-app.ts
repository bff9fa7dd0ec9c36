import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeRepo } from './git.js';
import { fixturesDir, tempDir } from './paths.js';
import { edgeGet, startSlipwayProcess, waitForStatus, type EdgeResponse, type RunningSlipway } from './slipway.js';

export interface FixtureApp {
  repo: Awaited<ReturnType<typeof makeRepo>>;
  slipway: RunningSlipway;
  /** the production host, `<name>.localhost` */
  host: string;
  webhookSecret: string;
  /**
   * Deploy production through the API and wait until it is ready (a failure fails the test with
   * the log's tail). Versions after v1 first commit and push `versionFile` saying so.
   */
  deploy(version: string, diagnostic?: (line: string) => void): Promise<any>;
  /** GET through the edge on the production host */
  get(path: string, headers?: Record<string, string>): Promise<EdgeResponse>;
  close(): Promise<void>;
}

/**
 * A framework fixture as a user would ship it: committed to a fresh repository and pushed, a
 * real `slipway up` in a temp data dir, and the project created.
 * `const app = await startFixtureApp({ fixture: 'astro-node', name: 'astro', versionFile: 'src/version.js' })`
 */
export async function startFixtureApp(opts: { fixture: string; name: string; versionFile: string; flags?: string[] }): Promise<FixtureApp> {
  const dir = await tempDir();
  const repo = await makeRepo(join(dir.path, 'repo'));
  await repo.commitFixture(join(fixturesDir, opts.fixture), `${opts.name} v1`);
  await repo.push();
  const slipway = await startSlipwayProcess(join(dir.path, 'data'), opts.flags ?? ['--edge-workers', '0']);
  const created = await slipway.api('POST', '/api/v1/projects', { name: opts.name, repoUrl: repo.url });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const host = `${opts.name}.localhost`;
  return {
    repo,
    slipway,
    host,
    webhookSecret: created.body.webhookSecret,
    async deploy(version, diagnostic) {
      if (version !== 'v1') {
        await repo.commit({ [opts.versionFile]: `export const VERSION = '${version}';\n` }, `${opts.name} ${version}`);
        await repo.push();
      }
      const { body } = await slipway.api('POST', `/api/v1/projects/${opts.name}/deployments`, {});
      const d = await waitForStatus(slipway, body.id, ['ready', 'failed'], 600_000);
      const logs = await slipway.api('GET', `/api/v1/deployments/${body.id}/logs?limit=5000`);
      const lines: string[] = logs.body.lines.map((l: { text: string }) => l.text);
      if (d.status !== 'ready') assert.fail(`deployment ${version} ${d.status}: ${JSON.stringify(d.error)}\n${lines.slice(-40).join('\n')}`);
      diagnostic?.(`${version} timings: ${JSON.stringify(d.timings)}`);
      return { ...d, lines };
    },
    get: (path, headers) => edgeGet(slipway.edgePort, host, path, headers),
    async close() {
      await slipway.stop();
      await dir.cleanup();
    },
  };
}

/** the edge's own ETag: the sha256 of the bytes it serves (an app's server sends its own, or none) */
export const servedByEdge = (res: { headers: Record<string, unknown> }) => /^"[0-9a-f]{64}"$/.test(String(res.headers.etag));
