import { recordWebhookAudit } from '../auth/index.js';
import { createDeployment, removePreviewAlias, reviveAlias } from '../deployments/index.js';
import type { Events } from '../events.js';
import type { Queue } from '../queue/index.js';
import type { SecretBox } from '../secrets.js';
import { changedPaths } from '../source/index.js';
import type { Db, Deployment, Project, Store } from '../store/index.js';
import { planDelivery, type Plan, type PlannedBuild } from './plan.js';
import type { Delivery } from './types.js';

export interface HookDeps {
  store: Store;
  queue: Queue;
  box: SecretBox;
  events: Events;
}

export type Answer = { status: number; body: Record<string, unknown> };

/**
 * Act on one verified delivery, at most once per delivery id (invariant 4): a delivery seen
 * before gets its first answer again. Everything it changes (a deployment and its job, an alias
 * removed, the audit event, the delivery record) commits in one transaction.
 */
export async function handleDelivery(deps: HookDeps, project: Project, delivery: Delivery): Promise<Answer> {
  const { store, events } = deps;
  if (delivery.event.kind === 'ping') return { status: 200, body: { ok: true, project: project.name } };
  // GitLab's event UUID (and a body's hash) is the same for every webhook of one repository: one
  // repository may feed two projects. GitHub's ids are per webhook already (and kept as stored before).
  const key = delivery.provider === 'github' ? delivery.id : `${delivery.id}@${project.id}`;
  const earlier = await seen(store.db, key);
  if (earlier !== undefined) return earlier;
  // may ask the repository (git diff), so it runs before the transaction
  const plan = await planDelivery(project, delivery, (before, after, listed) => (listed !== undefined ? Promise.resolve(listed) : changedPaths(project.repo_url, before, after)));
  const outcome = await store.tx(async (db) => {
    const again = await seen(db, key);
    if (again !== undefined) return { answer: again, enqueued: false, moved: [] as string[] };
    const done = await apply(deps, db, project, delivery, plan);
    await db
      .insertInto('webhook_deliveries')
      .values({
        delivery_id: key,
        project_id: project.id,
        deployment_id: typeof done.answer.body.deploymentId === 'string' ? done.answer.body.deploymentId : null,
        response: JSON.stringify(done.answer),
        received_at: Date.now(),
      })
      .execute();
    return done;
  });
  if (outcome.enqueued) events.emit('job-enqueued');
  // this process's edge refreshes now; edges in other processes see the bumped generation
  for (const alias of outcome.moved) events.emit('alias-moved', { projectId: project.id, alias, deploymentId: '' });
  return outcome.answer;
}

async function seen(db: Db, deliveryId: string): Promise<Answer | undefined> {
  const row = await db.selectFrom('webhook_deliveries').select('response').where('delivery_id', '=', deliveryId).executeTakeFirst();
  return row === undefined ? undefined : (JSON.parse(row.response) as Answer);
}

type Applied = { answer: Answer; enqueued: boolean; moved: string[] };

async function apply(deps: HookDeps, db: Db, project: Project, delivery: Delivery, plan: Plan): Promise<Applied> {
  const audit = (action: string, target: string, details: Record<string, unknown>) =>
    recordWebhookAudit(db, project.team_id, delivery.provider, { action, target, details: { project: project.name, event: delivery.name, delivery: delivery.id, ...details } });
  if (plan.kind === 'ignore') return { answer: { status: 202, body: { ignored: plan.reason } }, enqueued: false, moved: [] };
  if (plan.kind === 'skip') {
    await audit('deployment.skip', plan.sha, { branch: plan.branch, reason: plan.reason });
    return { answer: { status: 202, body: { skipped: plan.reason } }, enqueued: false, moved: [] };
  }
  if (plan.kind === 'remove') {
    const removed = await removePreviewAlias(db, project.id, plan.alias);
    // a queued build of a closed pull request would only be thrown away: cancel it
    if (plan.prNumber !== null) await cancelQueuedOfPr(deps, db, project.id, plan.prNumber);
    await audit('preview.remove', plan.alias, { reason: plan.reason, removed });
    return { answer: { status: 202, body: { removed: removed ? plan.alias : null, reason: plan.reason } }, enqueued: false, moved: removed ? [plan.alias] : [] };
  }
  const b = plan.build;
  await reviveAlias(db, project.id, b.alias);
  const existing = await sameBuild(db, project.id, b);
  if (existing !== undefined) {
    // the push and the pull request event for one commit make one deployment, which serves both
    if (b.prNumber !== null && existing.pr_number === null) {
      await db.updateTable('deployments').set({ pr_number: b.prNumber, source_repo: b.sourceRepo, source_provider: delivery.provider }).where('id', '=', existing.id).execute();
    }
    // its build moves the aliases of both when it finishes (run-job reads the row then)
    return { answer: { status: 202, body: { deploymentId: existing.id, reused: true } }, enqueued: false, moved: [] };
  }
  const d = await createDeployment(db, deps.queue, deps.box, {
    project,
    sha: b.sha,
    branch: b.branch,
    trigger: 'webhook',
    target: b.target,
    commitMessage: b.message,
    commitAuthor: b.author,
    supersedes: b.supersedes,
    prNumber: b.prNumber,
    sourceRepo: b.sourceRepo,
    headRepo: b.headRepo,
    sourceProvider: delivery.provider,
    withoutEnv: b.withoutEnv,
  });
  await audit('deployment.create', d.id, { sha: b.sha, branch: b.branch, target: b.target, pullRequest: b.prNumber, ...(b.headRepo === null ? {} : { fork: b.headRepo }) });
  return { answer: { status: 202, body: { deploymentId: d.id } }, enqueued: true, moved: [] };
}

/**
 * A build still under way of the same commit for the same place (branch or fork, target) that
 * the other kind of event made: GitHub sends a push and a pull_request event for one commit,
 * and one deployment serves both. A push after a push builds again, as before (a ready one is
 * never reused: its alias may have moved on since).
 */
async function sameBuild(db: Db, projectId: string, b: PlannedBuild): Promise<Deployment | undefined> {
  let q = db
    .selectFrom('deployments')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('commit_sha', '=', b.sha)
    .where('target', '=', b.target)
    .where('status', 'in', ['queued', 'building', 'deploying'])
    .where('branch', b.branch === null ? 'is' : '=', b.branch)
    .where('head_repo', b.headRepo === null ? 'is' : '=', b.headRepo);
  // another pull request with the same head is its own preview
  const pr = b.prNumber;
  q = pr === null ? q.where('pr_number', 'is not', null) : q.where((eb) => eb.or([eb('pr_number', 'is', null), eb('pr_number', '=', pr)]));
  const rows = await q.orderBy('seq', 'desc').limit(1).execute();
  return rows[0];
}

async function cancelQueuedOfPr(deps: HookDeps, db: Db, projectId: string, prNumber: number): Promise<void> {
  const queued = await db.selectFrom('deployments').select('id').where('project_id', '=', projectId).where('pr_number', '=', prNumber).where('status', '=', 'queued').execute();
  const ids = queued.map((d) => d.id);
  if (ids.length === 0) return;
  await db
    .updateTable('deployments')
    .set({ status: 'canceled', error_code: 'CANCELED', error_message: `Pull request #${prNumber} was closed.`, finished_at: Date.now() })
    .where('id', 'in', ids)
    .execute();
  await deps.queue.cancelQueued(db, ids);
}
