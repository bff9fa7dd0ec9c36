import { createHash } from 'node:crypto';
import { AppError } from '../errors/index.js';
import { bumpCounter, readCounter, type Db, type Deployment } from '../store/index.js';

export const PRODUCTION = 'production';

/** The alias name of a branch preview: `branch:<slug>`. */
export function branchAlias(slug: string): string {
  return `branch:${slug}`;
}

/** The alias name of a pull request preview: `pr:<number>` (host `pr-<number>--<project>`). */
export function prAlias(prNumber: number): string {
  return `pr:${prNumber}`;
}

const HASH_LENGTH = 6;
/** names a slug must not take unhashed: a pull request's host, a deployment id's (`d` + 11), the look of a hashed slug */
const RESERVED = /^pr-\d+$|^d[a-z0-9]{11}$|-[0-9a-f]{6}$/;

/**
 * The DNS label part of a branch preview, `<slug>--<project>` at most 63 characters. A name
 * that is already a plain label (`main`, `fix-42`) is its own slug; any other gets a short
 * hash of the exact name, so two branches never share a slug:
 * `feature/Über-Login` -> `feature-uber-login-<hash>`, `a/b` -> `a-b-<hash>` (and `a-b` stays
 * `a-b`), `Main` -> `main-<hash>`, a 300-character name -> its first characters plus the hash.
 */
export function branchSlug(branch: string, projectName: string): string {
  const room = Math.max(HASH_LENGTH + 2, 63 - 2 - projectName.length);
  const plain = branch
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (plain === branch && plain.length <= room && !RESERVED.test(plain)) return plain;
  const hash = createHash('sha256').update(branch).digest('hex').slice(0, HASH_LENGTH);
  const head = plain.slice(0, room - HASH_LENGTH - 1).replace(/-+$/, '');
  return `${head === '' ? 'branch' : head}-${hash}`;
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

/**
 * Take a preview alias away (its branch was deleted, its pull request closed), in the caller's
 * transaction: the edges stop serving its host on their next generation check and retire its
 * server, and a build of it still under way does not bring it back. The deployments stay, at
 * their own URLs, for a later retention to collect. Returns whether an alias was there.
 */
export async function removePreviewAlias(db: Db, projectId: string, name: string): Promise<boolean> {
  const now = Date.now();
  const seq = await readCounter(db, 'deployment_seq');
  await db
    .insertInto('removed_aliases')
    .values({ project_id: projectId, name, removed_seq: seq, removed_at: now })
    .onConflict((oc) => oc.columns(['project_id', 'name']).doUpdateSet({ removed_seq: seq, removed_at: now }))
    .execute();
  const gone = await db.deleteFrom('aliases').where('project_id', '=', projectId).where('name', '=', name).executeTakeFirst();
  if (Number(gone.numDeletedRows) === 0) return false;
  await bumpCounter(db, 'alias_generation');
  return true;
}

/** A new push or a reopened pull request wants its preview back: builds from now on may take it again. */
export async function reviveAlias(db: Db, projectId: string, name: string): Promise<void> {
  await db.deleteFrom('removed_aliases').where('project_id', '=', projectId).where('name', '=', name).execute();
}

/**
 * The preview aliases a ready deployment takes when its build finishes: its branch's (not for a
 * fork's pull request: a fork's branch is not ours) and its pull request's, each only forward and
 * never one taken away since the deployment was made. Returns the names that moved.
 */
export async function movePreviewAliases(db: Db, projectName: string, d: Pick<Deployment, 'id' | 'seq' | 'project_id' | 'branch' | 'pr_number' | 'head_repo'>): Promise<string[]> {
  const names: string[] = [];
  if (d.branch !== null && d.head_repo === null) names.push(branchAlias(branchSlug(d.branch, projectName)));
  if (d.pr_number !== null) names.push(prAlias(Number(d.pr_number)));
  const moved: string[] = [];
  for (const name of names) {
    const removed = await db.selectFrom('removed_aliases').select('removed_seq').where('project_id', '=', d.project_id).where('name', '=', name).executeTakeFirst();
    if (removed !== undefined && Number(removed.removed_seq) >= Number(d.seq)) continue;
    if (await moveAliasForward(db, d.project_id, name, d)) moved.push(name);
  }
  return moved;
}
