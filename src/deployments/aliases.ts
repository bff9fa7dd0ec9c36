import { AppError } from '../errors/index.js';
import { bumpCounter, type Db, type Deployment } from '../store/index.js';

export const PRODUCTION = 'production';

/** The alias name of a branch preview: `branch:<slug>`. */
export function branchAlias(slug: string): string {
  return `branch:${slug}`;
}

/**
 * `feature/Login-Page` -> `feature-login-page`, short enough that `<slug>--<project>` stays a
 * DNS label (63 characters).
 */
export function branchSlug(branch: string, projectName: string): string {
  const room = Math.max(1, 63 - 2 - projectName.length);
  const slug = branch
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .replace(/-{2,}/g, '-')
    .slice(0, room)
    .replace(/-+$/, '');
  return slug === '' ? 'branch' : slug;
}

/**
 * Point an alias at a deployment, in the caller's transaction. Refuses anything but a `ready`
 * deployment of the same project with a stored manifest (invariant 1), and bumps the alias
 * generation the edges poll.
 */
export async function moveAlias(db: Db, projectId: string, name: string, deploymentId: string): Promise<void> {
  const d = await db.selectFrom('deployments').select(['status', 'manifest_hash', 'project_id']).where('id', '=', deploymentId).executeTakeFirst();
  if (d === undefined || d.project_id !== projectId) throw new AppError('DEPLOYMENT_NOT_FOUND', `No deployment ${deploymentId} in this project.`);
  if (d.status !== 'ready' || d.manifest_hash === null) {
    throw new AppError('NOT_READY', `Deployment ${deploymentId} is ${d.status}; only a ready deployment can take an alias.`);
  }
  const now = Date.now();
  await db
    .insertInto('aliases')
    .values({ project_id: projectId, name, deployment_id: deploymentId, updated_at: now })
    .onConflict((oc) => oc.columns(['project_id', 'name']).doUpdateSet({ deployment_id: deploymentId, updated_at: now }))
    .execute();
  await bumpCounter(db, 'alias_generation');
}

export async function aliasTarget(db: Db, projectId: string, name: string): Promise<string | null> {
  const row = await db.selectFrom('aliases').select('deployment_id').where('project_id', '=', projectId).where('name', '=', name).executeTakeFirst();
  return row?.deployment_id ?? null;
}

/**
 * The automatic move (a finished build): like moveAlias, but never to a deployment created
 * before the one the alias points at now, so an alias does not go backwards by itself (a
 * person's rollback or promote uses moveAlias). Returns whether it moved.
 */
export async function moveAliasForward(db: Db, projectId: string, name: string, deployment: Pick<Deployment, 'id' | 'seq'>): Promise<boolean> {
  const current = await aliasTarget(db, projectId, name);
  if (current !== null && current !== deployment.id) {
    const cur = await db.selectFrom('deployments').select('seq').where('id', '=', current).executeTakeFirst();
    if (cur !== undefined && Number(cur.seq) > Number(deployment.seq)) return false;
  }
  await moveAlias(db, projectId, name, deployment.id);
  return true;
}
