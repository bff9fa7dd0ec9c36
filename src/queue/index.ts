import { sql, type RawBuilder } from 'kysely';
import { clockSql, type Db, type Job, type Store } from '../store/index.js';

/** A job this worker holds. `token` fences every later write: it only succeeds while we still own the lease. */
export interface ClaimedJob {
  id: number;
  kind: string;
  deploymentId: string;
  attempt: number;
  maxAttempts: number;
  token: string;
}

export interface QueueOptions {
  /** how long a claim stays valid without a heartbeat */
  leaseMs: number;
  /** delay before a retried job may run again: base * 2^(attempt-1) */
  backoffBaseMs?: number;
}

/**
 * A durable job queue in the state database.
 *
 * Claiming marks a job running with a lease (`lease_until`). A live worker extends the lease
 * with heartbeats; a worker that crashed, was SIGKILLed or lost its machine stops doing so, the
 * lease expires and `reapExpired` puts the job back (or dead-letters it after `max_attempts`).
 * Every write after the claim is conditioned on `locked_by = token`, so a worker that lost its
 * lease and comes back cannot complete a job another worker now owns.
 *
 * Time: on PostgreSQL every lease, heartbeat, run_at and expiry check reads the database's own
 * clock (`clock_timestamp()`, in ms), never the process's. Workers on machines whose clocks
 * disagree would otherwise disagree about whether a lease has expired: a worker running 30 s
 * fast would reap a live job and hand it to a second owner. One clock, one answer. On SQLite
 * every process shares the machine's clock, so the process's `Date.now()` is that clock.
 */
export class Queue {
  private readonly leaseMs: number;
  private readonly backoffBaseMs: number;

  constructor(
    private readonly store: Store,
    opts: QueueOptions,
  ) {
    this.leaseMs = opts.leaseMs;
    this.backoffBaseMs = opts.backoffBaseMs ?? 1000;
  }

  /** "now" (+ `plusMs`) in ms as SQL: the database's clock on PostgreSQL, this process's on SQLite (see the class comment). */
  private clock(plusMs = 0): RawBuilder<number> {
    return clockSql(this.store, plusMs);
  }

  /** Add a job; pass the caller's transaction so the job and its deployment row commit together. */
  async enqueue(db: Db, job: { kind: string; deploymentId: string; maxAttempts?: number }): Promise<number> {
    const now = this.clock();
    const row = await db
      .insertInto('jobs')
      .values({
        kind: job.kind,
        deployment_id: job.deploymentId,
        status: 'queued',
        attempts: 0,
        max_attempts: job.maxAttempts ?? 3,
        run_at: now,
        locked_by: null,
        lease_until: null,
        last_error: null,
        created_at: now,
        updated_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return Number(row.id);
  }

  /** Claim the oldest runnable job, or undefined when there is none. */
  async claim(workerId: string): Promise<ClaimedJob | undefined> {
    // On PostgreSQL, FOR UPDATE SKIP LOCKED: the subquery locks the row it picks and skips rows
    // other claimers have locked, so N workers claiming at once each get a different job without
    // waiting on each other (without it they would all pick the same oldest row, queue on its
    // lock, and all but one would update nothing). SQLite has a single writer, so the one
    // UPDATE is atomic on its own.
    const lock = this.store.dialect === 'postgres' ? sql`for update skip locked` : sql``;
    const now = this.clock();
    const result = await sql<Job>`
      update jobs
         set status = 'running',
             attempts = attempts + 1,
             locked_by = ${workerId} || ':' || (attempts + 1),
             lease_until = ${this.clock(this.leaseMs)},
             updated_at = ${now}
       where id = (select id from jobs
                    where status = 'queued' and run_at <= ${now}
                    order by run_at, id
                    limit 1 ${lock})
         and status = 'queued'
      returning *`.execute(this.store.db);
    const job = result.rows[0];
    if (job === undefined) return undefined;
    return {
      id: Number(job.id),
      kind: job.kind,
      deploymentId: job.deployment_id,
      attempt: Number(job.attempts),
      maxAttempts: Number(job.max_attempts),
      token: job.locked_by!,
    };
  }

  /** Extend the lease. False means the lease was lost: stop working on the job. */
  async heartbeat(job: ClaimedJob): Promise<boolean> {
    const res = await this.store.db
      .updateTable('jobs')
      .set({ lease_until: this.clock(this.leaseMs), updated_at: this.clock() })
      .where('id', '=', job.id)
      .where('locked_by', '=', job.token)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  /** Finish the job inside the caller's transaction. False when the lease was lost. */
  async complete(db: Db, job: ClaimedJob): Promise<boolean> {
    return this.finish(db, job, 'done', null);
  }

  /** A failure nobody should retry (the user's build failed): the job ends here. */
  async failPermanently(db: Db, job: ClaimedJob, error: string): Promise<boolean> {
    return this.finish(db, job, 'failed', error);
  }

  /**
   * A failure of the platform: retry with backoff while attempts remain, else dead-letter.
   * Returns what happened, or 'lost' when the lease was no longer ours.
   */
  async failAndRetry(db: Db, job: ClaimedJob, error: string): Promise<'retrying' | 'dead' | 'lost'> {
    if (job.attempt >= job.maxAttempts) return (await this.finish(db, job, 'dead', error)) ? 'dead' : 'lost';
    const res = await db
      .updateTable('jobs')
      .set({ status: 'queued', locked_by: null, lease_until: null, last_error: error, run_at: this.clock(this.backoff(job.attempt)), updated_at: this.clock() })
      .where('id', '=', job.id)
      .where('locked_by', '=', job.token)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1 ? 'retrying' : 'lost';
  }

  /** Give the job back without counting the attempt (graceful shutdown). */
  async release(job: ClaimedJob): Promise<void> {
    await this.store.db
      .updateTable('jobs')
      .set((eb) => ({ status: 'queued', locked_by: null, lease_until: null, attempts: eb('attempts', '-', 1), run_at: this.clock(), updated_at: this.clock() }))
      .where('id', '=', job.id)
      .where('locked_by', '=', job.token)
      .where('status', '=', 'running')
      .execute();
  }

  /** Cancel the still-queued jobs of these deployments (superseded by a newer push). */
  async cancelQueued(db: Db, deploymentIds: string[]): Promise<void> {
    if (deploymentIds.length === 0) return;
    await db.updateTable('jobs').set({ status: 'canceled', updated_at: this.clock() }).where('deployment_id', 'in', deploymentIds).where('status', '=', 'queued').execute();
  }

  /**
   * Return jobs whose lease expired to the queue, or dead-letter them when they have used all
   * their attempts; `onDead` runs in the same transaction (to fail the deployment).
   */
  async reapExpired(onDead: (db: Db, job: Job) => Promise<void>): Promise<number> {
    return this.store.tx(async (db) => {
      // FOR UPDATE (PostgreSQL): two reapers on two machines must not both requeue one job
      // (the second would reset a lease a new owner just took); the second waits, then
      // re-checks the lease and skips rows another reaper already handled.
      let query = db.selectFrom('jobs').selectAll().where('status', '=', 'running').where('lease_until', '<', this.clock());
      if (this.store.dialect === 'postgres') query = query.forUpdate().skipLocked();
      const expired = await query.execute();
      for (const job of expired) {
        const attempts = Number(job.attempts);
        const lost = `worker ${job.locked_by ?? '?'} stopped heartbeating (crashed, killed or lost its machine) during attempt ${attempts}`;
        if (attempts >= Number(job.max_attempts)) {
          await db.updateTable('jobs').set({ status: 'dead', locked_by: null, lease_until: null, last_error: lost, updated_at: this.clock() }).where('id', '=', job.id).execute();
          await onDead(db, { ...job, last_error: lost });
        } else {
          await db
            .updateTable('jobs')
            .set({ status: 'queued', locked_by: null, lease_until: null, last_error: lost, run_at: this.clock(), updated_at: this.clock() })
            .where('id', '=', job.id)
            .execute();
        }
      }
      return expired.length;
    });
  }

  private async finish(db: Db, job: ClaimedJob, status: 'done' | 'failed' | 'dead', error: string | null): Promise<boolean> {
    const res = await db
      .updateTable('jobs')
      .set({ status, locked_by: null, lease_until: null, last_error: error, updated_at: this.clock() })
      .where('id', '=', job.id)
      .where('locked_by', '=', job.token)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  private backoff(attempt: number): number {
    return this.backoffBaseMs * 2 ** (attempt - 1);
  }
}
