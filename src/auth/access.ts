import { AppError } from '../errors/index.js';
import type { Db, Deployment, Project, Role, Team } from '../store/index.js';
import { atLeast, findTeam, roleOf } from './accounts.js';
import type { Caller } from './caller.js';

/**
 * What a route needs, declared where it is registered (`config: { access }`); the api checks
 * it before the handler runs, and refuses to start with a route that declares nothing.
 *   - public: no caller needed (login, invitation links, webhooks with their own signature);
 *     `session: 'optional'` gives the handler the session's caller when there is one
 *   - caller 'any': any valid caller; the handler answers only with what is the caller's own
 *   - caller 'person': as 'any', but not a project deploy token
 *   - caller 'admin': the installation admin only
 *   - project / deployment / team: the route's parameter of that name names the resource; the
 *     caller needs `role` in the team that owns it. `deploy: true` lets the project's deploy
 *     tokens do it as well (deploy tokens may always read their project).
 * A resource of a team the caller is not in is a 404 (its usual NOT_FOUND), never a 403.
 */
export type Access =
  | { public: true; session?: 'optional' }
  | { caller: 'any' | 'person' | 'admin' }
  | { project: string; role: Role; deploy?: boolean }
  | { deployment: string; role: Role; deploy?: boolean }
  | { team: string; role: Role };

/** What the check found, for the handler to use. */
export interface Grant {
  project?: Project;
  deployment?: Deployment;
  team?: Team;
  /** the caller's role in that team */
  role?: Role;
}

export function projectNotFound(nameOrId: string): AppError {
  return new AppError('PROJECT_NOT_FOUND', `No project named "${nameOrId}".`);
}

export function teamNotFound(slug: string): AppError {
  return new AppError('TEAM_NOT_FOUND', `No team "${slug}".`);
}

function forbidden(role: Role | 'deploy token', needed: string): AppError {
  return new AppError('FORBIDDEN', `This needs the ${needed} role; you are ${role === 'deploy token' ? 'using a deploy token' : `a ${role}`} here.`, {
    hint: role === 'deploy token' ? 'A deploy token may read and deploy its project only; use a personal token for the rest.' : 'Ask an owner of the team to change your role.',
  });
}

/** Check `access` for `caller` on a request with these route parameters; throws the refusal. */
export async function authorize(db: Db, caller: Caller | undefined, access: Access, params: Record<string, string>): Promise<Grant> {
  if ('public' in access) return {};
  if (caller === undefined) throw new AppError('UNAUTHORIZED', 'This endpoint needs an API token.');
  if ('caller' in access) {
    if (access.caller === 'admin' && caller.kind !== 'admin') throw new AppError('FORBIDDEN', 'Only the installation admin may do this.', { hint: 'Use the admin token (<data-dir>/admin-token).' });
    if (access.caller === 'person' && caller.kind === 'deploy') throw forbidden('deploy token', 'personal');
    return {};
  }
  if ('team' in access) {
    const slug = params[access.team] ?? '';
    const team = await findTeam(db, slug);
    const role = team === undefined ? undefined : await teamRole(db, caller, team.id);
    if (team === undefined || role === undefined) throw teamNotFound(slug);
    if (!atLeast(role, access.role)) throw forbidden(role, access.role);
    return { team, role };
  }
  if ('deployment' in access) {
    const id = params[access.deployment] ?? '';
    const deployment = await db.selectFrom('deployments').selectAll().where('id', '=', id).executeTakeFirst();
    const notFound = new AppError('DEPLOYMENT_NOT_FOUND', `No deployment ${JSON.stringify(id)}.`);
    if (deployment === undefined) throw notFound;
    const project = await db.selectFrom('projects').selectAll().where('id', '=', deployment.project_id).executeTakeFirstOrThrow();
    const role = await projectRole(db, caller, project, access, notFound);
    return { project, deployment, role };
  }
  const nameOrId = params[access.project] ?? '';
  const project = await db
    .selectFrom('projects')
    .selectAll()
    .where((eb) => eb.or([eb('name', '=', nameOrId), eb('id', '=', nameOrId)]))
    .executeTakeFirst();
  if (project === undefined) throw projectNotFound(nameOrId);
  return { project, role: await projectRole(db, caller, project, access, projectNotFound(nameOrId)) };
}

async function projectRole(db: Db, caller: Caller, project: Project, access: { role: Role; deploy?: boolean }, notFound: AppError): Promise<Role> {
  if (caller.kind === 'deploy') {
    if (caller.token.project_id !== project.id) throw notFound;
    // a deploy token can do no more than its maker still may
    if (caller.token.user_id !== null) {
      const makers = project.team_id === null ? undefined : await roleOf(db, project.team_id, caller.token.user_id);
      if (makers === undefined || !atLeast(makers, 'member')) throw notFound;
    }
    if (access.role !== 'viewer' && access.deploy !== true) throw forbidden('deploy token', access.role);
    return 'member';
  }
  const role = await projectTeamRole(db, caller, project);
  if (role === undefined) throw notFound;
  if (!atLeast(role, access.role)) throw forbidden(role, access.role);
  return role;
}

/** The caller's role in a team (undefined: not in it). The admin is an owner everywhere. */
export async function teamRole(db: Db, caller: Caller, teamId: string): Promise<Role | undefined> {
  if (caller.kind === 'admin') return 'owner';
  if (caller.kind === 'deploy') return undefined;
  if (caller.token?.team_id != null && caller.token.team_id !== teamId) return undefined;
  return roleOf(db, teamId, caller.user.id);
}

/** The caller's role on a project's team (a project outside any team: the admin's alone). */
export async function projectTeamRole(db: Db, caller: Caller, project: Project): Promise<Role | undefined> {
  if (caller.kind === 'admin') return 'owner';
  if (caller.kind === 'deploy') return caller.token.project_id === project.id ? 'viewer' : undefined;
  if (project.team_id === null) return undefined;
  return teamRole(db, caller, project.team_id);
}
