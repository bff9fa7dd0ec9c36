import type { ErrorCode } from '../errors/index.js';
import type { ClaimedJob, Queue } from '../queue/index.js';
import { branchTip, refTip } from '../source/index.js';
import type { Deployment, Store } from '../store/index.js';

/**
 * Why a webhook deployment must not be built, or undefined when it may. A push builds only
 * while its commit is still the tip of its branch, asked of the git host just before the
 * fetch: the delivery id is not signed, so an old signed body sent again with a new id would
 * otherwise build the old commit and move production back to it. Checked here, not at the
 * hook: the hook must answer the git host within seconds whatever the host's own speed, and
 * a push that went stale while queued is caught too.
 */
export async function stalePushReason(repoUrl: string, d: Deployment, signal: AbortSignal): Promise<string | undefined> {
  if (d.trigger === 'webhook' && d.branch === null && d.pr_number !== null) return staleForkReason(repoUrl, d, signal);
  if (d.trigger !== 'webhook' || d.branch === null) return undefined;
  const tip = await branchTip(repoUrl, d.branch, { signal });
  const sha = d.commit_sha.toLowerCase();
  if (tip === sha) return undefined;
  const where = tip === null ? `branch ${d.branch} no longer exists` : `${d.branch} is at ${tip.slice(0, 12)} now`;
  return `Skipped: commit ${sha.slice(0, 12)} is no longer the tip of ${d.branch} (${where}). A stale or replayed push is not built; production stays where it is.`;
}

/**
 * A fork's pull request has no branch here: its head is the ref the host keeps for it in the
 * base repository (GitHub and Gitea `refs/pull/<n>/head`, GitLab `refs/merge-requests/<n>/head`).
 * A host that keeps none cannot tell, and the build goes ahead.
 */
async function staleForkReason(repoUrl: string, d: Deployment, signal: AbortSignal): Promise<string | undefined> {
  const n = Number(d.pr_number);
  const ref = d.source_provider === 'gitlab' ? `refs/merge-requests/${n}/head` : `refs/pull/${n}/head`;
  const tip = await refTip(repoUrl, ref, { signal });
  const sha = d.commit_sha.toLowerCase();
  if (tip === null || tip === sha) return undefined;
  return `Skipped: commit ${sha.slice(0, 12)} is no longer the head of pull request #${n} (${ref} is at ${tip.slice(0, 12)} now). A stale or replayed delivery is not built.`;
}

/**
 * Record the skip: the job is done and the deployment canceled with the reason (code
 * STALE_PUSH, or BUILD_SKIPPED for an ignored build step), in one transaction, and only while this worker still owns the job.
 */
export async function recordStalePush(store: Store, queue: Queue, job: ClaimedJob, deployment: Deployment, reason: string, code: ErrorCode = 'STALE_PUSH', phase = 'fetch'): Promise<void> {
  await store.tx(
    async (db) => {
      if (!(await queue.complete(db, job))) return;
      await db.updateTable('deployments').set({ status: 'canceled', error_code: code, error_phase: phase, error_message: reason, finished_at: Date.now() }).where('id', '=', deployment.id).execute();
    },
    { scope: deployment.project_id },
  );
}
