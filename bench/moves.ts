/**
 * Zero downtime, the long run: the Next.js fixture built twice (v1, v2) and served by the edge
 * in its default multi-process mode; while 32 keep-alive request loops hit a static page, an
 * SSR page, a route handler and a public file, production moves 20 times (10 rollbacks, 10
 * promotes). Every response must be 200, whole, and from exactly one version.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeRepo } from '../test/helpers/git.js';
import { checkNextBody, startLoad } from '../test/helpers/load.js';
import { fixturesDir } from '../test/helpers/paths.js';
import { startSlipwayProcess, waitFor, waitForStatus, edgeGet } from '../test/helpers/slipway.js';

const MOVES = Number(process.env.SLIPWAY_BENCH_MOVES ?? 20);

export async function run() {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-moves-'));
  const slipway = await startSlipwayProcess(join(dir, 'data'));
  try {
    const repo = await makeRepo(join(dir, 'repo'));
    await repo.commitFixture(join(fixturesDir, 'next-app'), 'v1');
    await repo.push();
    await slipway.api('POST', '/api/v1/projects', { name: 'moves', repoUrl: repo.url });
    const ids: Record<string, string> = {};
    for (const version of ['v1', 'v2']) {
      if (version !== 'v1') {
        await repo.commit({ 'lib/version.js': `export const VERSION = '${version}';\n` }, version);
        await repo.push();
      }
      const { body } = await slipway.api('POST', '/api/v1/projects/moves/deployments', {});
      const d = await waitForStatus(slipway, body.id, ['ready', 'failed'], 900_000);
      if (d.status !== 'ready') throw new Error(`build ${version} failed: ${JSON.stringify(d.error)}`);
      ids[d.id] = version;
    }
    const [v1, v2] = Object.keys(ids) as [string, string];
    await waitFor('production on v2 in every edge process', async () => ((await edgeGet(slipway.edgePort, 'moves.localhost', '/api/hello')).text.includes('v2') ? true : undefined), 60_000);

    const load = startLoad({ port: slipway.edgePort, host: 'moves.localhost', paths: ['/', '/ssr', '/api/hello', '/logo.png'], concurrency: 32, versions: () => ids, check: checkNextBody });
    const started = performance.now();
    for (let i = 0; i < MOVES; i++) {
      const res = i % 2 === 0 ? await slipway.api('POST', '/api/v1/projects/moves/rollback', { deploymentId: v1 }) : await slipway.api('POST', `/api/v1/deployments/${v2}/promote`);
      if (res.status !== 200) throw new Error(`move ${i} answered ${res.status}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const { requests, failures } = await load.stop();
    const seconds = (performance.now() - started) / 1000;
    return {
      title: `Moves under load: Next.js fixture, edge in multi-process mode, ${MOVES} moves, 32 connections`,
      rows: [{ requests, 'req/s': Math.round(requests / seconds), failed: failures.length }],
      notes: ['target: 0 failed', ...failures.slice(0, 5)],
    };
  } finally {
    await slipway.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
