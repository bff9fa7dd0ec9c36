import { randomBytes } from 'node:crypto';
import { hashPassword, sha256 } from '../auth/index.js';
import type { Config } from '../config/index.js';
import { AppError } from '../errors/index.js';
import { edgeOrigin } from '../projects/index.js';
import { bumpCounter, type Db, type Environment, type Project } from '../store/index.js';

export const PRODUCTION_ENV = 'production';
export const PREVIEW_ENV = 'preview';

/**
 * Named environments become a host label (`staging--blog.<base>`) next to deployment ids
 * (12 characters, a letter then letters and digits), branch slugs and `pr-<n>`: keep them short,
 * lower-case, with a hyphen-free first part unlike a pull request's.
 */
const NAME = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;

/** An environment as the rest of Slipway reads it: a row, or production's and preview's defaults. */
export interface EnvironmentSettings {
  name: string;
  /** production: the project's production branch; preview: null (every other branch) */
  branch: string | null;
  requiresApproval: boolean;
  approvers: 'owner' | 'member';
  autoPromote: boolean;
  protection: Environment['protection_mode'];
  row: Environment | undefined;
}

function settingsOf(project: Project, name: string, row: Environment | undefined): EnvironmentSettings {
  return {
    name,
    branch: name === PRODUCTION_ENV ? project.production_branch : (row?.branch ?? null),
    requiresApproval: row?.requires_approval === 1,
    approvers: row?.approvers ?? 'owner',
    autoPromote: row === undefined || row.auto_promote === 1,
    protection: row?.protection_mode ?? null,
    row,
  };
}

/** production, preview, then the named ones by name. */
export async function listEnvironments(db: Db, project: Project): Promise<EnvironmentSettings[]> {
  const rows = await db.selectFrom('environments').selectAll().where('project_id', '=', project.id).orderBy('name').execute();
  const byName = new Map(rows.map((r) => [r.name, r]));
  const named = rows.filter((r) => r.name !== PRODUCTION_ENV && r.name !== PREVIEW_ENV).map((r) => settingsOf(project, r.name, r));
  return [settingsOf(project, PRODUCTION_ENV, byName.get(PRODUCTION_ENV)), settingsOf(project, PREVIEW_ENV, byName.get(PREVIEW_ENV)), ...named];
}

export async function findEnvironment(db: Db, project: Project, name: string): Promise<EnvironmentSettings | undefined> {
  const row = await db.selectFrom('environments').selectAll().where('project_id', '=', project.id).where('name', '=', name).executeTakeFirst();
  if (row === undefined && name !== PRODUCTION_ENV && name !== PREVIEW_ENV) return undefined;
  return settingsOf(project, name, row);
}

export async function getEnvironment(db: Db, project: Project, name: string): Promise<EnvironmentSettings> {
  const env = await findEnvironment(db, project, name);
  if (env === undefined) {
    throw new AppError('ENVIRONMENT_NOT_FOUND', `Project ${project.name} has no environment ${JSON.stringify(name.slice(0, 80))}.`);
  }
  return env;
}

/**
 * The environment a push of `branch` deploys to: production for the production branch, the
 * named environment bound to it, else preview. A deploy without a branch (a bare sha) is a preview.
 * `environmentForBranch(project, [{name: 'staging', branch: 'develop'}], 'develop') === 'staging'`
 */
export function environmentForBranch(project: Pick<Project, 'production_branch'>, named: readonly { name: string; branch: string | null }[], branch: string | null): string {
  if (branch === null) return PREVIEW_ENV;
  if (branch === project.production_branch) return PRODUCTION_ENV;
  return named.find((e) => e.name !== PRODUCTION_ENV && e.name !== PREVIEW_ENV && e.branch === branch)?.name ?? PREVIEW_ENV;
}

/** environmentForBranch with the project's named environments read from the store. */
export async function environmentForBranchOf(db: Db, project: Project, branch: string | null): Promise<string> {
  if (branch === null || branch === project.production_branch) return environmentForBranch(project, [], branch);
  const named = await db.selectFrom('environments').select(['name', 'branch']).where('project_id', '=', project.id).where('branch', '=', branch).execute();
  return environmentForBranch(project, named, branch);
}

export interface EnvironmentInput {
  name?: unknown;
  branch?: unknown;
  requiresApproval?: unknown;
  approvers?: unknown;
  autoPromote?: unknown;
  protection?: unknown;
}

const FIELDS = ['name', 'branch', 'requiresApproval', 'approvers', 'autoPromote', 'protection'];
const EXAMPLE = 'For example: {"name": "staging", "branch": "develop", "requiresApproval": true, "approvers": "member"}';

function checkName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name) || name.includes('--') || /^pr-\d/.test(name)) {
    throw new AppError('VALIDATION', 'name must be 2-32 lower-case letters, digits and single hyphens, starting with a letter (not "pr-<n>").', { hint: EXAMPLE });
  }
  return name;
}

function bool(field: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new AppError('VALIDATION', `${field} must be true or false.`, { hint: EXAMPLE });
  return v;
}

/** What a protection setting asks for; the secret it makes (a bypass token) is returned once. */
export type ProtectionChange = { mode: null } | { mode: 'password'; password: string } | { mode: 'token' };

function checkProtection(v: unknown): ProtectionChange {
  const hint = 'For example: {"protection": {"mode": "password", "password": "at least 8 characters"}}, {"protection": {"mode": "token"}} or {"protection": null}';
  if (v === null || (typeof v === 'object' && (v as { mode?: unknown }).mode === null)) return { mode: null };
  if (typeof v !== 'object' || Array.isArray(v)) throw new AppError('VALIDATION', 'protection must be an object or null.', { hint });
  const { mode, password } = v as { mode?: unknown; password?: unknown };
  if (mode === 'token') return { mode };
  if (mode === 'password') {
    if (typeof password !== 'string' || password.length < 8 || password.length > 200) throw new AppError('VALIDATION', 'protection.password must be 8 to 200 characters.', { hint });
    return { mode, password };
  }
  throw new AppError('VALIDATION', 'protection.mode must be "password", "token" or null.', { hint });
}

/**
 * Create (`create: true`, a named environment) or change an environment's settings, in the
 * caller's transaction. Returns the settings and, when a bypass token was made, that token
 * (shown once; only its hash is kept).
 */
export async function saveEnvironment(db: Db, project: Project, name: string | undefined, input: EnvironmentInput, create: boolean): Promise<{ env: EnvironmentSettings; bypassToken?: string }> {
  for (const field of Object.keys(input)) {
    if (!FIELDS.includes(field)) throw new AppError('VALIDATION', `Unknown field ${JSON.stringify(field.slice(0, 40))}.`, { hint: `Fields are ${FIELDS.join(', ')}. ${EXAMPLE}` });
  }
  const envName = create ? checkName(input.name) : name!;
  if (!create && input.name !== undefined && input.name !== envName)
    throw new AppError('VALIDATION', 'An environment cannot be renamed.', { hint: 'Create one with the new name and delete this one.' });
  const existing = await findEnvironment(db, project, envName);
  if (create && existing !== undefined) {
    throw new AppError('CONFLICT', `Project ${project.name} already has an environment ${envName}.`, { hint: `Change it with PATCH /api/v1/projects/${project.name}/environments/${envName}.` });
  }
  if (!create && existing === undefined) await getEnvironment(db, project, envName);
  const builtIn = envName === PRODUCTION_ENV || envName === PREVIEW_ENV;
  const now = Date.now();
  const row: Environment = existing?.row ?? {
    project_id: project.id,
    name: envName,
    branch: null,
    requires_approval: 0,
    approvers: 'owner',
    auto_promote: 1,
    protection_mode: null,
    protection_hash: null,
    protection_key: null,
    created_at: now,
    updated_at: now,
  };
  if (input.branch !== undefined) {
    if (builtIn)
      throw new AppError('VALIDATION', envName === PRODUCTION_ENV ? "The production environment's branch is the project's productionBranch." : 'The preview environment has no branch of its own.', {
        hint: envName === PRODUCTION_ENV ? "Change the project's productionBranch (PATCH /api/v1/projects/<project>)." : 'Previews are every branch no other environment claims.',
      });
    if (input.branch !== null && (typeof input.branch !== 'string' || input.branch === '' || input.branch.length > 250 || /\s/.test(input.branch))) {
      throw new AppError('VALIDATION', 'branch must be a branch name or null.', { hint: EXAMPLE });
    }
    if (input.branch === project.production_branch) throw new AppError('VALIDATION', `${input.branch} is the production branch.`, { hint: 'Bind a named environment to another branch.' });
    const other =
      input.branch === null
        ? undefined
        : await db.selectFrom('environments').select('name').where('project_id', '=', project.id).where('branch', '=', input.branch).where('name', '!=', envName).executeTakeFirst();
    if (other !== undefined)
      throw new AppError('CONFLICT', `Branch ${input.branch} already deploys to environment ${other.name}.`, { hint: 'A branch deploys to one environment; unbind it there first.' });
    row.branch = input.branch as string | null;
  }
  if (input.requiresApproval !== undefined) {
    if (envName === PREVIEW_ENV && input.requiresApproval === true)
      throw new AppError('VALIDATION', 'Previews cannot require approval: each branch has its own URL.', {
        hint: 'Use a named environment (e.g. staging) for builds that need a person to approve them.',
      });
    row.requires_approval = bool('requiresApproval', input.requiresApproval) ? 1 : 0;
  }
  if (input.approvers !== undefined) {
    if (input.approvers !== 'owner' && input.approvers !== 'member') throw new AppError('VALIDATION', 'approvers must be "owner" or "member".', { hint: EXAMPLE });
    row.approvers = input.approvers;
  }
  if (input.autoPromote !== undefined) {
    if (envName === PREVIEW_ENV) throw new AppError('VALIDATION', 'autoPromote applies to production and named environments.', { hint: 'A preview always serves at its branch URL.' });
    row.auto_promote = bool('autoPromote', input.autoPromote) ? 1 : 0;
  }
  let bypassToken: string | undefined;
  if (input.protection !== undefined) {
    const change = checkProtection(input.protection);
    row.protection_mode = change.mode;
    row.protection_key = change.mode === null ? null : (row.protection_key ?? randomBytes(32).toString('hex'));
    if (change.mode === null) row.protection_hash = null;
    else if (change.mode === 'password') row.protection_hash = await hashPassword(change.password);
    else {
      bypassToken = `sbp_${randomBytes(24).toString('base64url')}`;
      // a long random token: a fast hash is enough, and the edge checks it on every request
      row.protection_hash = sha256(bypassToken);
    }
  }
  row.updated_at = now;
  await db
    .insertInto('environments')
    .values(row)
    .onConflict((oc) => oc.columns(['project_id', 'name']).doUpdateSet({ ...row }))
    .execute();
  // the edge reads protection and aliases: make every edge reload its routes
  await bumpCounter(db, 'alias_generation');
  return { env: settingsOf(project, envName, row), ...(bypassToken === undefined ? {} : { bypassToken }) };
}

/**
 * Remove a named environment: its alias goes (its host stops serving), its domains with it, and
 * branches it claimed deploy as previews again. Its deployments stay, reachable at their own URLs.
 */
export async function deleteEnvironment(db: Db, project: Project, name: string): Promise<void> {
  if (name === PRODUCTION_ENV || name === PREVIEW_ENV) throw new AppError('VALIDATION', `The ${name} environment always exists.`, { hint: 'Change its settings with PATCH instead.' });
  await getEnvironment(db, project, name);
  await db.deleteFrom('aliases').where('project_id', '=', project.id).where('name', '=', environmentAlias(name)!).execute();
  await db.deleteFrom('domains').where('project_id', '=', project.id).where('environment', '=', name).execute();
  await db.deleteFrom('environments').where('project_id', '=', project.id).where('name', '=', name).execute();
  await bumpCounter(db, 'alias_generation');
}

/** The alias an environment's deployments take: `production`, `env:<name>`; preview has none (each branch has its own). */
export function environmentAlias(name: string): string | undefined {
  if (name === PREVIEW_ENV) return undefined;
  return name === PRODUCTION_ENV ? PRODUCTION_ENV : `env:${name}`;
}

/** The environment as the API shows it; a protection secret never leaves. */
export function serializeEnvironment(config: Config, project: Project, env: EnvironmentSettings) {
  const label = env.name === PRODUCTION_ENV ? project.name : env.name === PREVIEW_ENV ? null : `${env.name}--${project.name}`;
  return {
    name: env.name,
    branch: env.branch,
    requiresApproval: env.requiresApproval,
    approvers: env.approvers,
    autoPromote: env.autoPromote,
    protection: env.protection === null ? null : { mode: env.protection },
    url: label === null ? null : edgeOrigin(config, label),
  };
}
