import { atLeast } from '../auth/index.js';
import { AppError } from '../errors/index.js';
import type { Db, Deployment, Project, Role } from '../store/index.js';
import { environmentAlias, findEnvironment, type EnvironmentSettings } from './settings.js';

/**
 * What a finished build of environment `name` does: take the environment's alias (`alias`,
 * when `autoPromote`), or wait for a person (`waits`). An environment deleted since the
 * deployment was made behaves like a preview: no alias of its own, no wait.
 */
export async function goLivePlan(db: Db, project: Project, name: string): Promise<{ waits: boolean; alias: string | undefined; autoPromote: boolean }> {
  const env = await findEnvironment(db, project, name);
  if (env === undefined) return { waits: false, alias: undefined, autoPromote: false };
  const alias = environmentAlias(env.name);
  return { waits: alias !== undefined && env.requiresApproval, alias, autoPromote: env.autoPromote };
}

/**
 * May someone with `role` let deployments into `env`? Owners always; members when the
 * environment's approvers are "member". Throws FORBIDDEN with what to do.
 */
export function checkApprover(env: EnvironmentSettings, role: Role | undefined, verb: string): void {
  const needed = env.approvers === 'member' ? 'member' : 'owner';
  if (role !== undefined && atLeast(role, needed)) return;
  throw new AppError(
    'FORBIDDEN',
    `Only ${needed === 'owner' ? 'an owner' : 'a member or owner'} may ${verb} deployments of ${env.name}; you are ${role === undefined ? 'not in the team' : `a ${role}`}.`,
    {
      hint: needed === 'owner' ? `Ask an owner, or let members approve: PATCH .../environments/${env.name} {"approvers": "member"}.` : 'Ask an owner of the team to change your role.',
    },
  );
}

/**
 * The deployment waiting for approval and its environment, checked for a decision by `role`.
 * Call in the transaction that records the decision.
 */
export async function pendingApproval(db: Db, project: Project, d: Deployment, role: Role | undefined, verb: 'approve' | 'reject'): Promise<EnvironmentSettings> {
  if (d.status !== 'awaiting-approval') {
    throw new AppError('CONFLICT', `Deployment ${d.id} is ${d.status}, not awaiting approval.`, { hint: 'Only a deployment in awaiting-approval can be approved or rejected.' });
  }
  const env = await findEnvironment(db, project, d.environment);
  if (env === undefined) {
    throw new AppError('ENVIRONMENT_NOT_FOUND', `Deployment ${d.id} was made for environment ${d.environment}, which no longer exists.`, {
      hint: 'Promote it to another environment, or deploy again.',
    });
  }
  checkApprover(env, role, verb);
  return env;
}

/** The reason a person gave with a decision: optional, at most 500 characters. */
export function checkReason(reason: unknown): string | null {
  if (reason === undefined || reason === null) return null;
  if (typeof reason !== 'string' || reason.length > 500)
    throw new AppError('VALIDATION', 'reason must be a string of at most 500 characters.', { hint: 'For example: {"reason": "checked the checkout flow on staging"}' });
  return reason;
}
