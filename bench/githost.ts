/**
 * Webhook to "pending" on GitHub: from the POST of a signed push webhook to the local GitHub API
 * receiving the deployment's first `queued` deployment status, over 50 deliveries, against the
 * webhook's own HTTP answer time in the same run. Builds are off (--build-concurrency 0): what is
 * measured is the reporter's latency, not a build's.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGithubApi } from '../test/helpers/github-api.js';
import { pushPayload, sendWebhook, startSlipwayProcess } from '../test/helpers/slipway.js';
import { median, ms, percentile } from './stats.js';

const DELIVERIES = Number(process.env.SLIPWAY_BENCH_DELIVERIES ?? 50);

export async function run() {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-gh-'));
  const github = await startGithubApi({ token: 'ghp_bench' });
  const slipway = await startSlipwayProcess(join(dir, 'data'), ['--build-concurrency', '0'], { SLIPWAY_GITHUB_TOKEN: 'ghp_bench', SLIPWAY_GITHUB_API_URL: github.url });
  try {
    const created = await slipway.api('POST', '/api/v1/projects', { name: 'gh', repoUrl: 'https://github.com/acme/gh' });
    if (created.status !== 201) throw new Error(`project: ${JSON.stringify(created.body)}`);
    const secret = created.body.webhookSecret as string;
    // the GitHub deployment of each sha, and when its first queued status arrived
    const pendingAt = new Map<string, number>();
    github.onRequest = (r) => {
      if (r.operationId === 'repos/create-deployment-status' && r.body.state === 'queued') {
        const d = github.deployments.get(Number(r.params.deployment_id));
        if (d !== undefined && !pendingAt.has(d.body.ref)) pendingAt.set(d.body.ref, performance.now());
      }
    };
    const toPending: number[] = [];
    const answer: number[] = [];
    // the first delivery warms what is compiled once (schemas, JIT); it is not counted
    for (let i = -1; i < DELIVERIES; i++) {
      const sha = randomBytes(20).toString('hex');
      const t = performance.now();
      const res = await sendWebhook(slipway.apiUrl, 'gh', secret, pushPayload({ ref: 'refs/heads/main', after: sha }));
      const answered = performance.now() - t;
      if (res.status !== 202) throw new Error(`webhook answered ${res.status}: ${JSON.stringify(res.body)}`);
      while (!pendingAt.has(sha)) {
        if (performance.now() - t > 10_000) throw new Error(`no queued status for ${sha} within 10 s`);
        await new Promise((r) => setTimeout(r, 2));
      }
      if (i < 0) continue;
      answer.push(answered);
      toPending.push(pendingAt.get(sha)! - t);
    }
    if (github.errors.length > 0) throw new Error(`the local GitHub API refused requests: ${github.errors.join('\n')}`);
    return {
      title: `Webhook -> first "queued" deployment status at the (local) GitHub API (${DELIVERIES} deliveries)`,
      rows: [
        { measure: 'webhook HTTP answer (reference)', median_ms: ms(median(answer)), p99_ms: ms(percentile(answer, 99)) },
        { measure: 'webhook -> queued status on GitHub', median_ms: ms(median(toPending)), p99_ms: ms(percentile(toPending, 99)), ratio_median: ms(median(toPending) / median(answer)) },
      ],
      notes: ['target: under 1 s; the reporter wakes on the in-process job-enqueued event, so it does not wait for its 250 ms poll'],
    };
  } finally {
    await slipway.stop();
    await github.close();
    await rm(dir, { recursive: true, force: true });
  }
}
