import type { Config } from '../config/index.js';
import { environmentForBranchOf } from '../environments/index.js';
import { AppError } from '../errors/index.js';
import { newId } from '../ids.js';
import { recordDeploymentEvent } from '../notify/index.js';
import { edgeOrigin, envForTarget } from '../projects/index.js';
import type { Queue } from '../queue/index.js';
import type { DeploymentServerSettings } from '../runtime/index.js';
import type { SecretBox } from '../secrets.js';

export type { DeploymentServerSettings } from '../runtime/index.js';
import { bumpCounter, type Db, type Deployment, type Project, type Store } from '../store/index.js';
import { aliasTarget, branchSlug, moveAlias, moveAliasForward, PRODUCTION } from './aliases.js';
import { startLiveMove } from './live.js';

export { aliasTarget, branchAlias, branchSlug, moveAlias, moveAliasForward, movePreviewAliases, prAlias, PRODUCTION, removePreviewAlias, reviveAlias } from './aliases.js';
export { appendLogs, readLogs, tailLogs } from './logs.js';
export { recordLiveAfterMove, startLiveMove, warmForMove } from './live.js';

export interface DeploymentRequest {
  project: Project;
  sha: string;
  branch: string | null;
  trigger: 'webhook' | 'api';
  commitMessage?: string | null;
  commitAuthor?: string | null;
  /** default: production for the production environment, else preview */
  target?: 'production' | 'preview' | undefined;
  /**
   * The commits whose still-queued deployments of this branch this one replaces (a push's
   * `before` and `after`); default: every queued one. A webhook passes its own, so a replayed
   * old push cannot cancel the queued build of a newer one.
   */
  supersedes?: readonly string[] | undefined;
  /** the environment it goes live in (default: the target, else the one bound to the branch: environmentForBranch) */
  environment?: string | undefined;
  /** from a git host webhook: the pull request, the repository, a fork's repository */
  prNumber?: number | null | undefined;
  sourceRepo?: string | null | undefined;
  headRepo?: string | null | undefined;
  sourceProvider?: Deployment['source_provider'] | undefined;
  /** true: none of the project's variables (a fork's pull request must never see its secrets) */
  withoutEnv?: boolean | undefined;
}

/**
 * Record a deployment and its build job in the caller's transaction (so a crash can never
 * leave one without the other). A still-queued older deployment of the same branch is
 * canceled: it would only be replaced by this one.
 *
 * The deployment keeps its own copy of the project's variables for its environment and branch (encrypted) and
 * of its server limits: changing them affects the next deployment, and a rollback or promote
 * runs the deployment with what it was built with.
 */
export async function createDeployment(db: Db, queue: Queue, box: SecretBox, req: DeploymentRequest): Promise<Deployment> {
  // the environment decides; target stays 'production' or 'preview' for the code that reads it.
  // A caller's target 'preview' only says "not production": a branch bound to staging still goes there.
  const bound = req.environment === undefined && req.target !== 'production' ? await environmentForBranchOf(db, req.project, req.branch) : undefined;
  const environment = req.environment ?? (req.target === 'production' ? 'production' : req.target === 'preview' && bound === 'production' ? 'preview' : bound!);
  const target = req.target ?? (environment === 'production' ? 'production' : 'preview');
  if (req.branch !== null) {
    const superseded = await db
      .selectFrom('deployments')
      .select('id')
      .where('project_id', '=', req.project.id)
      .where('branch', '=', req.branch)
      .where('status', '=', 'queued')
      .select('commit_sha')
      .execute();
    const ids = superseded.filter((d) => req.supersedes === undefined || req.supersedes.includes(d.commit_sha)).map((d) => d.id);
    if (ids.length > 0) {
      const now = Date.now();
      await db
        .updateTable('deployments')
        .set({ status: 'canceled', error_code: 'CANCELED', error_message: `Superseded by a newer push to ${req.branch}.`, finished_at: now })
        .where('id', 'in', ids)
        .execute();
      await queue.cancelQueued(db, ids);
    }
  }
  const deployment: Deployment = {
    id: newId('d'),
    project_id: req.project.id,
    seq: await bumpCounter(db, 'deployment_seq'),
    status: 'queued',
    target,
    trigger: req.trigger,
    branch: req.branch,
    commit_sha: req.sha,
    commit_message: req.commitMessage ?? null,
    commit_author: req.commitAuthor ?? null,
    manifest_hash: null,
    files_total: null,
    files_uploaded: null,
    bytes_uploaded: null,
    timings: null,
    build_info: null,
    error_code: null,
    error_phase: null,
    error_message: null,
    attempts: 0,
    created_at: Date.now(),
    started_at: null,
    finished_at: null,
    env: req.withoutEnv === true ? null : await snapshotEnv(db, box, req.project.id, environment, req.branch),
    server_memory_mb: req.project.server_memory_mb,
    server_pids: req.project.server_pids,
    server_cpu_shares: req.project.server_cpu_shares,
    server_request_timeout_seconds: req.project.server_request_timeout_seconds,
    integrity_error: null,
    live_at: null,
    environment,
    pr_number: req.prNumber ?? null,
    source_repo: req.sourceRepo ?? null,
    head_repo: req.headRepo ?? null,
    source_provider: req.sourceProvider ?? null,
  };
  await db.insertInto('deployments').values(deployment).execute();
  await queue.enqueue(db, { kind: 'build', deploymentId: deployment.id });
  await recordDeploymentEvent(db, 'deployment.created', deployment.id);
  return deployment;
}

async function snapshotEnv(db: Db, box: SecretBox, projectId: string, environment: string, branch: string | null): Promise<string | null> {
  const env = await envForTarget(db, box, projectId, environment, branch);
  return Object.keys(env).length === 0 ? null : box.encrypt(JSON.stringify(env));
}

/** The variables a deployment was created with, decrypted (builds and servers get exactly these). */
export function deploymentEnv(box: SecretBox, d: Pick<Deployment, 'env'>): Record<string, string> {
  if (d.env === null) return {};
  return JSON.parse(box.decrypt(d.env)) as Record<string, string>;
}

export async function deploymentServerSettings(db: Db, box: SecretBox, deploymentId: string): Promise<DeploymentServerSettings> {
  const d = await db
    .selectFrom('deployments')
    .select(['env', 'server_memory_mb', 'server_request_timeout_seconds', 'server_pids', 'server_cpu_shares'])
    .where('id', '=', deploymentId)
    .executeTakeFirst();
  if (d === undefined) throw new AppError('DEPLOYMENT_NOT_FOUND', `No deployment ${JSON.stringify(deploymentId)}.`);
  return serverSettingsOf(box, d);
}

export function serverSettingsOf(box: SecretBox, d: Pick<Deployment, 'env' | 'server_memory_mb' | 'server_request_timeout_seconds' | 'server_pids' | 'server_cpu_shares'>): DeploymentServerSettings {
  return {
    env: deploymentEnv(box, d),
    memoryMb: d.server_memory_mb ?? undefined,
    pids: d.server_pids ?? undefined,
    cpuShares: d.server_cpu_shares ?? undefined,
    requestTimeoutMs: d.server_request_timeout_seconds === null ? undefined : Number(d.server_request_timeout_seconds) * 1000,
  };
}

/**
 * Record that an edge or runtime found one of the deployment's blobs changed (its bytes no longer
 * match the manifest's hash), for an operator to see in the API. The first reason found stays.
 */
export async function flagIntegrityError(db: Db, deploymentId: string, reason: string): Promise<void> {
  await db
    .updateTable('deployments')
    .set({ integrity_error: reason.slice(0, 2000) })
    .where('id', '=', deploymentId)
    .where('integrity_error', 'is', null)
    .execute();
}

export async function getDeployment(db: Db, id: string): Promise<Deployment> {
  const d = await db.selectFrom('deployments').selectAll().where('id', '=', id).executeTakeFirst();
  if (d === undefined) throw new AppError('DEPLOYMENT_NOT_FOUND', `No deployment ${JSON.stringify(id)}.`);
  return d;
}

export async function listDeployments(db: Db, projectId: string, limit = 50): Promise<Deployment[]> {
  return db.selectFrom('deployments').selectAll().where('project_id', '=', projectId).orderBy('seq', 'desc').limit(limit).execute();
}

/**
 * Move the production alias to a ready deployment. Used by promote, rollback and a finished
 * production build; `onlyIfNewer` (every automatic move) never moves it to a deployment created
 * before the one it serves now: a slow older build does not replace a newer one.
 */
export async function setProduction(db: Db, deployment: Deployment, opts: { onlyIfNewer?: boolean } = {}): Promise<boolean> {
  if (opts.onlyIfNewer === true) return moveAliasForward(db, deployment.project_id, PRODUCTION, deployment);
  await moveAlias(db, deployment.project_id, PRODUCTION, deployment.id);
  return true;
}

/** Promote: production (or the environment alias `alias`, e.g. `env:staging`) now serves this ready deployment; nothing is rebuilt. */
export async function promote(store: Store, deploymentId: string, within?: (db: Db, d: Deployment) => Promise<void>, alias: string = PRODUCTION): Promise<Deployment> {
  return store.tx(async (db) => {
    const d = await getDeployment(db, deploymentId);
    await moveAlias(db, d.project_id, alias, d.id);
    await startLiveMove(db, d.id);
    await recordDeploymentEvent(db, 'deployment.promoted', d.id, { alias });
    await within?.(db, d);
    return { ...d, live_at: null };
  });
}

/**
 * The deployment a rollback moves production to: `deploymentId` when given, else the newest
 * ready production deployment older than the one production serves now.
 */
export async function rollbackTarget(db: Db, project: Project, deploymentId?: string): Promise<Deployment> {
  if (deploymentId !== undefined) {
    const d = await getDeployment(db, deploymentId);
    if (d.project_id !== project.id) throw new AppError('DEPLOYMENT_NOT_FOUND', `No deployment ${deploymentId} in project ${project.name}.`);
    return d;
  }
  const currentId = await aliasTarget(db, project.id, PRODUCTION);
  const current = currentId === null ? undefined : await getDeployment(db, currentId);
  let q = db.selectFrom('deployments').selectAll().where('project_id', '=', project.id).where('target', '=', 'production').where('status', '=', 'ready').orderBy('seq', 'desc').limit(1);
  if (current !== undefined) q = q.where('seq', '<', current.seq);
  const previous = await q.executeTakeFirst();
  if (previous === undefined) throw new AppError('NO_PREVIOUS_DEPLOYMENT', `Project ${project.name} has no earlier ready production deployment to roll back to.`);
  return previous;
}

/**
 * Roll production back to `rollbackTarget`. `within` runs in the same transaction once the
 * alias moved (the audit trail's record of it).
 */
export async function rollback(store: Store, project: Project, deploymentId?: string, within?: (db: Db, d: Deployment) => Promise<void>): Promise<Deployment> {
  return store.tx(async (db) => {
    const d = await rollbackTarget(db, project, deploymentId);
    await setProduction(db, d);
    await startLiveMove(db, d.id);
    // every rollback is announced, in its transaction, before the caller's own record of it
    await recordDeploymentEvent(db, 'deployment.rolled_back', d.id, { alias: PRODUCTION });
    await within?.(db, d);
    return { ...d, live_at: null };
  });
}

/**
 * Where the edge serves a deployment: its own URL, its branch's preview and its pull request's.
 * A fork's branch has no preview of its own here: its pull request's is the one.
 */
export function deploymentUrls(
  config: Config,
  project: Pick<Project, 'name'>,
  d: Pick<Deployment, 'id' | 'pr_number' | 'branch' | 'head_repo'>,
): { url: string; branchUrl: string | null; pullRequestUrl: string | null } {
  return {
    url: edgeOrigin(config, `${d.id}--${project.name}`),
    branchUrl: d.branch === null || d.head_repo !== null ? null : edgeOrigin(config, `${branchSlug(d.branch, project.name)}--${project.name}`),
    pullRequestUrl: d.pr_number === null ? null : edgeOrigin(config, `pr-${Number(d.pr_number)}--${project.name}`),
  };
}

/** The deployment as the API shows it. */
export function serializeDeployment(config: Config, project: Project, d: Deployment, productionId: string | null) {
  const timings = d.timings === null ? null : (JSON.parse(d.timings) as Record<string, number>);
  const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
  return {
    id: d.id,
    projectId: project.id,
    project: project.name,
    status: d.status,
    target: d.target,
    environment: d.environment,
    trigger: d.trigger,
    pullRequest: d.pr_number === null ? null : Number(d.pr_number),
    source: d.source_provider === null ? null : { provider: d.source_provider, repo: d.source_repo, headRepo: d.head_repo },
    isProduction: productionId === d.id,
    branch: d.branch,
    commit: { sha: d.commit_sha, message: d.commit_message, author: d.commit_author },
    ...deploymentUrls(config, project, d),
    stats: d.files_total === null ? null : { filesTotal: Number(d.files_total), filesUploaded: Number(d.files_uploaded), bytesUploaded: Number(d.bytes_uploaded) },
    timings,
    build: d.build_info === null ? null : (JSON.parse(d.build_info) as Record<string, unknown>),
    // what the deployment runs with; the variables' values are never shown
    server: { memoryMb: d.server_memory_mb, requestTimeoutSeconds: d.server_request_timeout_seconds, pids: d.server_pids, cpuShares: d.server_cpu_shares },
    error: d.error_code === null ? null : { code: d.error_code, phase: d.error_phase, message: d.error_message },
    // an edge or runtime found changed bytes in one of its blobs: those files answer 500, the server does not start
    integrityError: d.integrity_error,
    attempts: Number(d.attempts),
    createdAt: iso(d.created_at),
    startedAt: iso(d.started_at),
    finishedAt: iso(d.finished_at),
    // when every live edge served it (ready means live; null: not yet)
    liveAt: iso(d.live_at),
  };
}
