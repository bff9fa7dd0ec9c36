/**
 * Zero downtime, the long run: the Next.js fixture built twice (v1, v2) and served by the edge
 * in its default multi-process mode. While 32 keep-alive request loops hit a prerendered page,
 * an SSR page, a route handler and a public file: 10 new versions are pushed (git push + signed
 * webhook, each built and switched to) and rolled back 10 times; then production moves 20 times
 * (10 rollbacks, 10 promotes). Every response must be 200, whole, and from exactly one version.
 * SLIPWAY_BENCH_NEW_VERSIONS (default 10) and SLIPWAY_BENCH_MOVES (default 20) shorten it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeRepo } from '../test/helpers/git.js';
import { checkNextBody, startLoad } from '../test/helpers/load.js';
import { fixturesDir } from '../test/helpers/paths.js';
import { startSlipwayProcess, waitFor, waitForStatus, edgeGet } from '../test/helpers/slipway.js';
import { deploysAndRollbacksUnderLoad } from '../test/helpers/zero-downtime.js';
import { median, percentile } from './stats.js';

const MOVES = Number(process.env.SLIPWAY_BENCH_MOVES ?? 20);
const NEW_VERSIONS = Number(process.env.SLIPWAY_BENCH_NEW_VERSIONS ?? 10);

export async function run() {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-moves-'));
  const slipway = await startSlipwayProcess(join(dir, 'data'));
  try {
    const repo = await makeRepo(join(dir, 'repo'));
    await repo.commitFixture(join(fixturesDir, 'next-app'), 'v1');
    await repo.push();
    const created = await slipway.api('POST', '/api/v1/projects', { name: 'moves', repoUrl: repo.url });
    if (created.status !== 201) throw new Error(`creating the project answered ${created.status}`);
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

    const pushes = await deploysAndRollbacksUnderLoad({
      slipway,
      repo,
      project: 'moves',
      webhookSecret: created.body.webhookSecret,
      host: 'moves.localhost',
      versions: { ...ids },
      firstVersion: 3,
      deploys: NEW_VERSIONS,
      rollbacks: NEW_VERSIONS,
      concurrency: 32,
      log: (line) => console.error(`  ${line}`),
    });
    // the pushes end where they started (v2); the moves below go between v1 and v2

    const load = startLoad({ port: slipway.edgePort, host: 'moves.localhost', paths: ['/', '/ssr', '/api/hello', '/logo.png'], concurrency: 32, versions: () => ids, check: checkNextBody });
    const started = performance.now();
    for (let i = 0; i < MOVES; i++) {
      const res = i % 2 === 0 ? await slipway.api('POST', '/api/v1/projects/moves/rollback', { deploymentId: v1 }) : await slipway.api('POST', `/api/v1/deployments/${v2}/promote`);
      if (res.status !== 200) throw new Error(`move ${i} answered ${res.status}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const { requests, failures } = await load.stop();
    const seconds = (performance.now() - started) / 1000;
    const builds = pushes.deploys.map((d) => d.buildMs);
    const switches = pushes.deploys.map((d) => d.switchMs);
    return {
      title: `Zero downtime under load: Next.js fixture, edge in multi-process mode, 32 connections`,
      rows: [
        {
          phase: `${NEW_VERSIONS} pushes + ${NEW_VERSIONS} rollbacks`,
          requests: pushes.requests,
          'req/s': Math.round(pushes.requests / pushes.seconds),
          failed: pushes.failures.length,
          'push→ready median s': Math.round(median(builds) / 100) / 10,
          'ready→served median ms': Math.round(median(switches)),
          'rollback→served p50/max ms': `${Math.round(median(pushes.rollbackMs))}/${Math.round(percentile(pushes.rollbackMs, 100))}`,
        },
        { phase: `${MOVES} moves (rollback/promote)`, requests, 'req/s': Math.round(requests / seconds), failed: failures.length },
      ],
      notes: ['target: 0 failed', `dependency cache on the pushes: ${pushes.deploys.map((d) => d.cache).join(', ')}`, ...pushes.failures.slice(0, 5), ...failures.slice(0, 5)],
    };
  } finally {
    await slipway.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
