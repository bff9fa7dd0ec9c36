import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { recordDeploymentEvent } from '../notify/index.js';
import type { ClaimedJob } from '../queue/index.js';
import { observeBuild } from '../metrics/index.js';
import { runJob, StopError, type JobDeps, type StopReason } from './run-job.js';
import { sweepStaleBuilds } from './stale-builds.js';
import { logger } from '../log/index.js';

const log = logger('worker');

export { packageCacheDir } from './run-job.js';

export interface WorkerHandle {
  readonly id: string;
  /** builds running now */
  running(): number;
  /**
   * Stop claiming; let running builds finish for up to `graceMs`, then stop the rest and give
   * their jobs back to the queue so another worker (or this one after a restart) runs them.
   */
  stop(graceMs: number): Promise<void>;
}

interface Active {
  job: ClaimedJob;
  controller: AbortController;
  done: Promise<void>;
}

/**
 * The build worker: claims jobs up to `buildConcurrency`, heartbeats their leases, reaps jobs
 * whose worker died. Wakes at once on an in-process enqueue, else polls.
 */
export function startWorker(deps: JobDeps, opts: { pollMs?: number } = {}): WorkerHandle {
  const { store, queue, config, events } = deps;
  // sweepStaleBuilds reads the pid back out of it (in jobs.locked_by)
  const id = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const pollMs = opts.pollMs ?? 500;
  const active = new Map<number, Active>();
  let stopping = false;
  let wake: (() => void) | undefined;
  let lastReap = 0;

  const onEnqueue = () => wake?.();
  events.on('job-enqueued', onEnqueue);

  const heartbeatEvery = Math.max(100, Math.floor(config.jobLeaseMs / 3));
  const heartbeat = setInterval(() => {
    for (const a of active.values()) {
      void (async () => {
        const held = await queue.heartbeat(a.job);
        if (!held) return a.controller.abort('lease-lost' satisfies StopReason);
        const d = await store.db.selectFrom('deployments').select('status').where('id', '=', a.job.deploymentId).executeTakeFirst();
        if (d?.status === 'canceled') a.controller.abort('canceled' satisfies StopReason);
      })().catch((err: unknown) => log.error({ err }, 'heartbeat failed'));
    }
  }, heartbeatEvery);

  const reap = async () => {
    if (Date.now() - lastReap < Math.min(1000, config.jobLeaseMs / 2)) return;
    lastReap = Date.now();
    await queue.reapExpired(async (db, job) => {
      await db
        .updateTable('deployments')
        .set({
          status: 'failed',
          error_code: 'WORKER_LOST',
          error_phase: 'build',
          error_message: `The build was attempted ${Number(job.attempts)} times and each time its worker stopped before finishing (crash, SIGKILL or a lost machine); it was dead-lettered.`,
          finished_at: Date.now(),
        })
        .where('id', '=', job.deployment_id)
        .execute();
      await recordDeploymentEvent(db, 'deployment.failed', job.deployment_id);
    });
  };

  const start = (job: ClaimedJob) => {
    const controller = new AbortController();
    const done = runJob(deps, job, controller.signal)
      .then(() => (deps.metrics === undefined ? undefined : observeBuild(deps.metrics, store.db, job.deploymentId)))
      .catch(async (err: unknown) => {
        if (err instanceof StopError) {
          if (err.reason === 'shutdown') await queue.release(job);
          return;
        }
        log.error({ err, jobId: job.id }, 'job crashed');
      })
      .finally(() => {
        active.delete(job.id);
        wake?.();
      });
    active.set(job.id, { job, controller, done });
  };

  const loop = async () => {
    // before the first claim, so none of this worker's own folders can be taken for stale
    await sweepStaleBuilds(store, join(config.dataDir, 'builds')).then(
      (n) => n > 0 && log.info(`removed ${n} build folder${n === 1 ? '' : 's'} of attempts that no longer run`),
      (err: unknown) => log.error({ err }, 'could not sweep stale build folders'),
    );
    while (!stopping) {
      try {
        await reap();
        while (!stopping && active.size < config.buildConcurrency) {
          const job = await queue.claim(id);
          if (job === undefined) break;
          start(job);
        }
      } catch (err) {
        log.error({ err }, 'claim loop error (will retry)');
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  };
  const looping = loop();

  return {
    id,
    running: () => active.size,
    async stop(graceMs) {
      stopping = true;
      wake?.();
      events.off('job-enqueued', onEnqueue);
      await looping;
      const all = () => Promise.all([...active.values()].map((a) => a.done));
      const grace = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
      if ((await Promise.race([all().then(() => 'done' as const), grace])) === 'timeout') {
        for (const a of active.values()) a.controller.abort('shutdown' satisfies StopReason);
        await all();
      }
      clearInterval(heartbeat);
    },
  };
}
