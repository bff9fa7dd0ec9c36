import type { Db } from '../store/index.js';
import type { ReportedDeployment } from './plan.js';

/** A deployment the reporter may owe the git host something, with what it sent so far. */
export interface Candidate extends ReportedDeployment {
  source_provider: string | null;
  source_repo: string | null;
  project_name: string;
  team_id: string | null;
  repo_url: string;
  sent: string | null;
  state: string | null;
  next_at: number | null;
  remote_id: number | null;
  attempts: number | null;
  first_failed_at: number | null;
}

const DAY = 86_400_000;

/**
 * Deployments of the last day, and those of the last week whose report is not finished: a
 * long-lived preview still turns inactive when it is replaced days later.
 */
export async function loadCandidates(db: Db, now: number): Promise<Candidate[]> {
  const rows = await db
    .selectFrom('deployments as d')
    .innerJoin('projects as p', 'p.id', 'd.project_id')
    .leftJoin('git_host_reports as r', 'r.deployment_id', 'd.id')
    .select([
      'd.id',
      'd.project_id',
      'd.seq',
      'd.status',
      'd.environment',
      'd.branch',
      'd.commit_sha',
      'd.pr_number',
      'd.started_at',
      'd.error_message',
      'd.created_at',
      'd.source_provider',
      'd.source_repo',
      'p.name as project_name',
      'p.team_id',
      'p.repo_url',
      'r.sent',
      'r.state',
      'r.next_at',
      'r.remote_id',
      'r.attempts',
      'r.first_failed_at',
    ])
    .where('d.created_at', '>', now - 7 * DAY)
    .where((eb) => eb.or([eb('d.created_at', '>', now - DAY), eb.and([eb('r.state', 'is not', null), eb('r.state', '!=', 'failed')])]))
    .orderBy('d.seq', 'desc')
    .limit(500)
    .execute();
  return rows.map((r) => ({
    ...r,
    seq: Number(r.seq),
    pr_number: r.pr_number === null ? null : Number(r.pr_number),
    remote_id: r.remote_id === null ? null : Number(r.remote_id),
    next_at: r.next_at === null ? null : Number(r.next_at),
  }));
}

/** Which of these deployments some alias points at now. */
export async function aliasedAmong(db: Db, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.selectFrom('aliases').select('deployment_id').where('deployment_id', 'in', ids).execute();
  return new Set(rows.map((r) => r.deployment_id));
}

/**
 * Take the report of a deployment for `leaseMs` (making its row the first time), so two
 * processes never talk to the git host about the same deployment at once. Returns the row as it
 * is now; undefined: another process has it.
 */
export async function claimReport(db: Db, c: { id: string; provider: 'github' | 'gitlab'; repo: string }, now: number, leaseMs: number) {
  await db
    .insertInto('git_host_reports')
    .values({ deployment_id: c.id, provider: c.provider, repo: c.repo, sent: '', state: 'pending', attempts: 0, updated_at: now })
    .onConflict((oc) => oc.column('deployment_id').doNothing())
    .execute();
  const r = await db
    .updateTable('git_host_reports')
    .set({ locked_until: now + leaseMs })
    .where('deployment_id', '=', c.id)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1) return undefined;
  const row = await db.selectFrom('git_host_reports').select(['sent', 'state', 'remote_id', 'attempts', 'first_failed_at']).where('deployment_id', '=', c.id).executeTakeFirstOrThrow();
  return {
    ...row,
    remote_id: row.remote_id === null ? null : Number(row.remote_id),
    attempts: Number(row.attempts),
    first_failed_at: row.first_failed_at === null ? null : Number(row.first_failed_at),
  };
}

export async function saveSent(db: Db, id: string, sent: readonly string[]): Promise<void> {
  await db
    .updateTable('git_host_reports')
    .set({ sent: sent.join(','), state: 'pending', updated_at: Date.now() })
    .where('deployment_id', '=', id)
    .execute();
}

export async function saveRemoteId(db: Db, id: string, remoteId: number): Promise<void> {
  await db.updateTable('git_host_reports').set({ remote_id: remoteId, updated_at: Date.now() }).where('deployment_id', '=', id).execute();
}

export async function markSent(db: Db, id: string): Promise<void> {
  await db
    .updateTable('git_host_reports')
    .set({ state: 'sent', attempts: 0, last_error: null, first_failed_at: null, next_at: null, locked_until: null, updated_at: Date.now() })
    .where('deployment_id', '=', id)
    .execute();
}

export async function markFailed(db: Db, id: string, f: { attempts: number; error: string; firstFailedAt: number; nextAt: number | null }): Promise<void> {
  await db
    .updateTable('git_host_reports')
    .set({
      state: f.nextAt === null ? 'failed' : 'retrying',
      attempts: f.attempts,
      last_error: f.error.slice(0, 2000),
      first_failed_at: f.firstFailedAt,
      next_at: f.nextAt,
      locked_until: null,
      updated_at: Date.now(),
    })
    .where('deployment_id', '=', id)
    .execute();
}

/** A rate limit is no failure of the report: it only waits. */
export async function postpone(db: Db, id: string, until: number, error: string): Promise<void> {
  await db
    .updateTable('git_host_reports')
    .set({ state: 'retrying', next_at: until, last_error: error.slice(0, 2000), locked_until: null, updated_at: Date.now() })
    .where('deployment_id', '=', id)
    .execute();
}

export async function commentId(db: Db, projectId: string, repo: string, pr: number): Promise<number | null> {
  const row = await db.selectFrom('git_host_comments').select('comment_id').where('project_id', '=', projectId).where('repo', '=', repo).where('pr_number', '=', pr).executeTakeFirst();
  return row === undefined ? null : Number(row.comment_id);
}

export async function saveCommentId(db: Db, projectId: string, repo: string, pr: number, id: number): Promise<void> {
  const now = Date.now();
  await db
    .insertInto('git_host_comments')
    .values({ project_id: projectId, repo, pr_number: pr, comment_id: id, updated_at: now })
    .onConflict((oc) => oc.columns(['project_id', 'repo', 'pr_number']).doUpdateSet({ comment_id: id, updated_at: now }))
    .execute();
}

/** Whether a newer deployment of the same pull request exists (its comment belongs to the newest). */
export async function newerOfPr(db: Db, d: { project_id: string; pr_number: number | null; seq: number }): Promise<boolean> {
  if (d.pr_number === null) return false;
  const row = await db.selectFrom('deployments').select('id').where('project_id', '=', d.project_id).where('pr_number', '=', d.pr_number).where('seq', '>', d.seq).limit(1).executeTakeFirst();
  return row !== undefined;
}

/** The report as a deployment's API answer shows it (`gitHost`); null: nothing to report for it. */
export async function gitHostStatus(db: Db, deploymentId: string) {
  const r = await db.selectFrom('git_host_reports').selectAll().where('deployment_id', '=', deploymentId).executeTakeFirst();
  if (r === undefined) return null;
  return {
    provider: r.provider,
    repo: r.repo,
    state: r.state,
    sent: r.sent === '' ? [] : r.sent.split(','),
    attempts: Number(r.attempts),
    lastError: r.last_error,
    nextAttemptAt: r.next_at === null || r.state === 'sent' ? null : new Date(Number(r.next_at)).toISOString(),
  };
}
