import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config/index.js';
import { createDeployment, moveAlias } from '../../src/deployments/index.js';
import { Events } from '../../src/events.js';
import { startGitHostReporter, type GitHostReporter } from '../../src/githost/index.js';
import { createProject } from '../../src/projects/index.js';
import { Queue } from '../../src/queue/index.js';
import { SecretBox } from '../../src/secrets.js';
import { Store, type Project } from '../../src/store/index.js';
import { tempDir } from '../helpers/paths.js';

/**
 * A store with one project whose deployments the reporter tells a (local) git host about:
 * deployments are made with createDeployment and moved through their statuses as a build would.
 */
export interface ReporterFixture {
  store: Store;
  box: SecretBox;
  events: Events;
  config: Config;
  project: Project;
  reporter: GitHostReporter;
  deploy(opts: { sha: string; branch?: string; pr?: number | null; repo?: string; provider?: 'github' | 'gitlab' | null; environment?: string }): Promise<string>;
  /** set a status the way the worker does, and tell the reporter */
  setStatus(id: string, status: string): Promise<void>;
  /** ready, and the named alias now points at it */
  ready(id: string, alias: string): Promise<void>;
  close(): Promise<void>;
}

export async function startReporterFixture(flags: Record<string, string>, opts: { repoUrl?: string; backoff?: { baseMs: number; capMs: number; giveUpMs: number } } = {}): Promise<ReporterFixture> {
  const dir = await tempDir('slipway-githost-');
  const store = await Store.openSqlite(join(dir.path, 'slipway.db'));
  const box = new SecretBox(randomBytes(32));
  const events = new Events();
  const queue = new Queue(store, { leaseMs: 30_000 });
  const config = loadConfig({ 'data-dir': dir.path, 'edge-port': '8080', 'public-url': 'http://deploy.test', ...flags }, {});
  const { project } = await createProject(store.db, box, { name: 'site', repoUrl: opts.repoUrl ?? 'https://github.com/acme/site' });
  const reporter = startGitHostReporter({ store, config, box, events, pollMs: 50, backoff: opts.backoff ?? { baseMs: 100, capMs: 1000, giveUpMs: 60_000 } });
  const set = async (id: string, values: Record<string, unknown>) => {
    await store.db.updateTable('deployments').set(values).where('id', '=', id).execute();
    events.emit('deployment-changed', { deploymentId: id });
  };
  return {
    store,
    box,
    events,
    config,
    project,
    reporter,
    async deploy(o) {
      const d = await store.tx((db) =>
        createDeployment(db, queue, box, {
          project,
          sha: o.sha,
          branch: o.branch ?? 'feature',
          trigger: 'webhook',
          target: o.environment === 'production' ? 'production' : 'preview',
          environment: o.environment ?? 'preview',
          prNumber: o.pr ?? null,
          sourceRepo: o.provider === null ? null : (o.repo ?? 'acme/site'),
          sourceProvider: o.provider === null ? undefined : (o.provider ?? 'github'),
        }),
      );
      events.emit('job-enqueued');
      return d.id;
    },
    setStatus: (id, status) => set(id, { status, ...(status === 'building' ? { started_at: Date.now() } : {}) }),
    async ready(id, alias) {
      await store.tx(async (db) => {
        await db
          .updateTable('deployments')
          .set({ status: 'ready', manifest_hash: 'f'.repeat(64), finished_at: Date.now() })
          .where('id', '=', id)
          .execute();
        await moveAlias(db, project.id, alias, id);
      });
      events.emit('deployment-changed', { deploymentId: id });
    },
    async close() {
      await reporter.stop();
      await store.close();
      await dir.cleanup();
    },
  };
}

/** Wait until `check` holds (polling), or fail with what `describe` says. */
export async function until(check: () => boolean | Promise<boolean>, describe: () => string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${describe()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
