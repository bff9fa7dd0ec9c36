/**
 * Rollback/promote: from the API call to the edge serving the other deployment, over 50 moves,
 * with the edge in its default multi-process mode (edge processes learn of moves from the store).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeRepo } from '../test/helpers/git.js';
import { fixturesDir } from '../test/helpers/paths.js';
import { edgeGet, startSlipwayProcess, waitForStatus } from '../test/helpers/slipway.js';
import { median, ms, percentile } from './stats.js';

const MOVES = Number(process.env.SLIPWAY_BENCH_MOVES ?? 50);

export async function run() {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-rb-'));
  const slipway = await startSlipwayProcess(join(dir, 'data'));
  try {
    const repo = await makeRepo(join(dir, 'repo'));
    await repo.commitFixture(join(fixturesDir, 'static-site'), 'fixture');
    await repo.push();
    await slipway.api('POST', '/api/v1/projects', { name: 'rb', repoUrl: repo.url });
    const ids: string[] = [];
    for (const v of ['a', 'b']) {
      await repo.commit({ 'version.txt': `${v}\n` }, v);
      await repo.push();
      const { body } = await slipway.api('POST', '/api/v1/projects/rb/deployments', {});
      await waitForStatus(slipway, body.id, ['ready']);
      ids.push(body.id);
    }
    // warm both deployments into the edge caches, as live sites would be
    for (const id of ids) await edgeGet(slipway.edgePort, `${id}--rb.localhost`, '/');

    const times: number[] = [];
    for (let i = 0; i < MOVES; i++) {
      const target = ids[i % 2]!;
      const t = performance.now();
      const res = i % 4 === 1 ? await slipway.api('POST', '/api/v1/projects/rb/rollback', { deploymentId: target }) : await slipway.api('POST', `/api/v1/deployments/${target}/promote`);
      if (res.status !== 200) throw new Error(`move answered ${res.status}: ${JSON.stringify(res.body)}`);
      // every edge process must have switched: check a few fresh connections
      let seen = 0;
      while (seen < 4) {
        const r = await edgeGet(slipway.edgePort, 'rb.localhost', '/');
        seen = r.headers['x-slipway-deployment'] === target ? seen + 1 : 0;
        if (performance.now() - t > 5000) throw new Error('the edge did not switch within 5 s');
      }
      times.push(performance.now() - t);
    }
    return {
      title: `Rollback / promote: API call -> every edge process serves the other deployment (${MOVES} moves)`,
      rows: [{ median_ms: ms(median(times)), p99_ms: ms(percentile(times, 99)), max_ms: ms(Math.max(...times)) }],
      notes: ['target: under 50 ms; includes the API round trip and 4 confirming edge requests on fresh connections'],
    };
  } finally {
    await slipway.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
