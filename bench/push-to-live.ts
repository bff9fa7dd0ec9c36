/**
 * Push-to-live: from the webhook to the first 200 of the new content through the edge, next to
 * the same `npm ci && npm run build` run bare in a plain checkout, in the same run.
 * The overhead (fetch, sandbox, packaging, upload, alias move, edge pick-up) is the difference.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeRepo } from '../test/helpers/git.js';
import { fixturesDir } from '../test/helpers/paths.js';
import { edgeGet, pushPayload, sendWebhook, startSlipwayProcess } from '../test/helpers/slipway.js';
import { median, ms } from './stats.js';

const run$ = promisify(execFile);
const RUNS = Number(process.env.SLIPWAY_BENCH_RUNS ?? 5);

export async function run() {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-ptl-'));
  const slipway = await startSlipwayProcess(join(dir, 'data'));
  try {
    const repo = await makeRepo(join(dir, 'repo'));
    await repo.commitFixture(join(fixturesDir, 'static-site'), 'fixture');
    await repo.push();
    const created = await slipway.api('POST', '/api/v1/projects', { name: 'bench', repoUrl: repo.url });
    const secret = created.body.webhookSecret as string;

    const bare: number[] = [];
    const live: number[] = [];
    const phases: Record<string, number[]> = {};
    for (let i = 0; i <= RUNS; i++) {
      // bare reference: the same install + build, in a plain copy of the same commit
      const copy = join(dir, `bare-${i}`);
      await cp(repo.work, copy, { recursive: true, filter: (src) => !src.includes('/.git') });
      let t = performance.now();
      await run$('npm', ['ci'], { cwd: copy });
      await run$('npm', ['run', 'build'], { cwd: copy });
      const bareMs = performance.now() - t;
      await rm(copy, { recursive: true, force: true });

      const version = `bench-${i}-${Date.now()}`;
      const sha = await repo.commit({ 'version.txt': `${version}\n` }, `bench ${i}`);
      await repo.push();
      t = performance.now();
      const hook = await sendWebhook(slipway.apiUrl, 'bench', secret, pushPayload({ ref: 'refs/heads/main', after: sha }));
      if (hook.status !== 202) throw new Error(`webhook answered ${hook.status}: ${JSON.stringify(hook.body)}`);
      for (;;) {
        const res = await edgeGet(slipway.edgePort, 'bench.localhost', '/');
        if (res.status === 200 && res.text.includes(version)) break;
        if (performance.now() - t > 120_000) throw new Error('the new version did not go live within 120 s');
        await new Promise((r) => setTimeout(r, 5));
      }
      const liveMs = performance.now() - t;
      if (i === 0) continue; // warm-up: first npm run, first blob writes
      bare.push(bareMs);
      live.push(liveMs);
      const d = await slipway.api('GET', `/api/v1/deployments/${hook.body.deploymentId}`);
      for (const [k, v] of Object.entries(d.body.timings as Record<string, number>)) (phases[k] ??= []).push(v);
    }
    const b = median(bare);
    const l = median(live);
    return {
      title: `Push to live (static fixture, median of ${RUNS})`,
      rows: [
        { measure: 'bare npm ci + npm run build', ms: ms(b) },
        { measure: 'webhook -> first 200 of new content', ms: ms(l) },
        { measure: 'overhead', ms: ms(l - b), ratio: l / b },
        ...Object.entries(phases).map(([k, v]) => ({ measure: `  phase ${k}`, ms: ms(median(v)) })),
      ],
      notes: [`target: overhead under 1000 ms (measured ${ms(l - b)} ms)`],
    };
  } finally {
    await slipway.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
