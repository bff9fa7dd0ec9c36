import type { makeRepo } from './git.js';
import { checkNextBody, startLoad, type LoadResult } from './load.js';
import { edgeGet, pushPayload, sendWebhook, waitFor, waitForStatus, type RunningSlipway } from './slipway.js';

type Repo = Awaited<ReturnType<typeof makeRepo>>;

export interface ZeroDowntimeOptions {
  slipway: RunningSlipway;
  repo: Repo;
  project: string;
  webhookSecret: string;
  /** the production host, e.g. next.localhost */
  host: string;
  /**
   * deployment id -> version name of what production may already serve, in the order they were
   * deployed (production on the last); new versions are added
   */
  versions: Record<string, string>;
  /** the number the first new version gets (v<n>) */
  firstVersion: number;
  deploys: number;
  rollbacks: number;
  concurrency: number;
  log?: (line: string) => void;
}

export interface ZeroDowntimeResult extends LoadResult {
  /** per deploy: webhook to ready, and ready to the production host serving it */
  deploys: { version: string; id: string; buildMs: number; switchMs: number; cache: string }[];
  /** per rollback: API call until 12 fresh connections in a row get the older version */
  rollbackMs: number[];
  seconds: number;
}

/**
 * The zero-downtime proof for the Next.js fixture: while `concurrency` keep-alive loops request
 * a prerendered page, an SSR page, a route handler and a public file from production, push
 * `deploys` new versions (git push + signed webhook, as GitHub sends it), each built, made
 * ready and switched to, then roll back `rollbacks` times (each to the deployment before the
 * current one). Every response must be 200, whole, and from exactly one known version.
 */
export async function deploysAndRollbacksUnderLoad(opts: ZeroDowntimeOptions): Promise<ZeroDowntimeResult> {
  const { slipway, repo, host, versions } = opts;
  const log = opts.log ?? (() => {});
  const serving = async () => (JSON.parse((await edgeGet(slipway.edgePort, host, '/api/hello')).text) as { version: string }).version;
  // every edge process switches on its own once its server answers: "served" means a run of
  // fresh connections (spread over the processes by the kernel) that all get the version
  const servedEverywhere = async (version: string) => {
    for (let i = 0; i < 12; i++) if ((await serving()) !== version) return undefined;
    return true;
  };
  /** production's versions in the order they were deployed: a rollback goes one step back */
  const history = Object.entries(versions).map(([, v]) => v);
  const load = startLoad({ port: slipway.edgePort, host, paths: ['/', '/ssr', '/api/hello', '/logo.png'], concurrency: opts.concurrency, versions: () => versions, check: checkNextBody });
  const started = performance.now();
  const deploys: ZeroDowntimeResult['deploys'] = [];
  const rollbackMs: number[] = [];
  let result: LoadResult;
  try {
    for (let i = 0; i < opts.deploys; i++) {
      const version = `v${opts.firstVersion + i}`;
      const sha = await repo.commit({ 'lib/version.js': `export const VERSION = '${version}';\n` }, `next app ${version}`);
      await repo.push();
      const pushedAt = performance.now();
      const hook = await sendWebhook(slipway.apiUrl, opts.project, opts.webhookSecret, pushPayload({ ref: 'refs/heads/main', after: sha, message: version, repoUrl: repo.url }));
      if (hook.status !== 202 || typeof hook.body?.deploymentId !== 'string') throw new Error(`the push webhook for ${version} answered ${hook.status} ${JSON.stringify(hook.body)}`);
      const id = hook.body.deploymentId as string;
      versions[id] = version;
      const d = await waitForStatus(slipway, id, ['ready', 'failed', 'canceled'], 900_000);
      if (d.status !== 'ready') throw new Error(`deployment ${version} ended ${d.status}: ${JSON.stringify(d.error)}`);
      const readyAt = performance.now();
      await waitFor(`production to serve ${version}`, () => servedEverywhere(version), 60_000, 20);
      history.push(version);
      const entry = { version, id, buildMs: Math.round(readyAt - pushedAt), switchMs: Math.round(performance.now() - readyAt), cache: String(d.build?.cache?.dependencies) };
      deploys.push(entry);
      log(`deployed ${version}: ready ${entry.buildMs} ms after the push, served ${entry.switchMs} ms later (dependencies ${entry.cache})`);
    }
    for (let i = 0; i < opts.rollbacks; i++) {
      const from = history.at(-1)!;
      const expected = history.at(-2);
      const t0 = performance.now();
      const res = await slipway.api('POST', `/api/v1/projects/${opts.project}/rollback`, {});
      if (res.status !== 200) throw new Error(`rollback ${i + 1} answered ${res.status} ${JSON.stringify(res.body)}`);
      const to = versions[String(res.body?.id)];
      if (to === undefined || to !== expected) throw new Error(`rollback ${i + 1} from ${from} went to ${JSON.stringify(res.body)}`);
      await waitFor(`production to serve ${to} after rollback ${i + 1}`, () => servedEverywhere(to), 60_000, 10);
      history.pop();
      rollbackMs.push(Math.round(performance.now() - t0));
      log(`rolled back ${from} -> ${to} in ${rollbackMs.at(-1)} ms`);
    }
  } finally {
    result = await load.stop();
  }
  return { ...result, deploys, rollbackMs, seconds: (performance.now() - started) / 1000 };
}
