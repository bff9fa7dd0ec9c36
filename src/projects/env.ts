import { AppError } from '../errors/index.js';
import { newId } from '../ids.js';
import type { SecretBox } from '../secrets.js';
import type { Db, EnvTarget, EnvVar } from '../store/index.js';

/** What a shell, a build tool and `process.env` all accept as a name. */
const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_KEY_LENGTH = 256;
export const MAX_VALUE_BYTES = 64 * 1024;
export const MAX_VARS_PER_PROJECT = 200;
/**
 * All values of one project together. A process's environment and arguments share one kernel
 * limit (ARG_MAX, 2 MiB on a default Linux stack); past it the build or server cannot start.
 */
export const MAX_TOTAL_BYTES = 1024 * 1024;
export const ENV_TARGETS: readonly EnvTarget[] = ['preview', 'production'];

/**
 * Names the platform sets itself: the server's PORT/HOST/HOSTNAME (where it must listen), the
 * build's PATH/HOME/TMPDIR (its sandbox layout), and every SLIPWAY_* name. NODE_ENV is allowed:
 * it reaches the build and the server as given (note that npm skips devDependencies when it is
 * "production" during the install).
 */
const RESERVED = new Set(['PORT', 'HOST', 'HOSTNAME', 'PATH', 'HOME', 'TMPDIR', 'PWD']);

export interface EnvVarView {
  key: string;
  /** always masked: values are never returned */
  value: string;
  targets: EnvTarget[];
  /** set: an override for deployments of this branch */
  branch: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Check a variable name; throws VALIDATION with a hint. `checkEnvKey('API_URL')` */
export function checkEnvKey(key: string): void {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !KEY.test(key)) {
    throw new AppError('VALIDATION', `${JSON.stringify(key.slice(0, 80))} is not a valid variable name: use letters, digits and "_", not starting with a digit (at most ${MAX_KEY_LENGTH}).`, {
      hint: 'For example: PUT /api/v1/projects/<project>/env/API_URL',
    });
  }
  // "__proto__" as a key of a plain object sets its prototype instead: the variable would vanish
  if (key === '__proto__') {
    throw new AppError('VALIDATION', '"__proto__" cannot be a variable name.', { hint: 'Pick another name, e.g. PROTO.' });
  }
  if (RESERVED.has(key) || key.toUpperCase().startsWith('SLIPWAY_')) {
    throw new AppError('VALIDATION', `${key} is reserved: Slipway sets it for builds and servers itself.`, {
      hint: `Reserved names: ${[...RESERVED].join(', ')} and anything starting with SLIPWAY_. Pick another name.`,
    });
  }
}

function checkValue(value: unknown): string {
  if (typeof value !== 'string') throw new AppError('VALIDATION', 'value must be a string.', { hint: 'For example: {"value": "https://api.example.com", "targets": ["production"]}' });
  if (Buffer.byteLength(value) > MAX_VALUE_BYTES)
    throw new AppError('VALIDATION', `value is longer than ${MAX_VALUE_BYTES / 1024} KiB.`, {
      hint: 'Keep large files in the repository or a storage service and put their location in the variable.',
    });
  // a process environment cannot carry a NUL byte
  if (value.includes('\0')) throw new AppError('VALIDATION', 'value contains a NUL character, which no process environment can hold.', { hint: 'Encode binary values, e.g. as base64.' });
  return value;
}

/** The environments a project has: production, preview and its named ones. */
export async function environmentNames(db: Db, projectId: string): Promise<string[]> {
  const rows = await db.selectFrom('environments').select('name').where('project_id', '=', projectId).execute();
  return [...new Set([...ENV_TARGETS, ...rows.map((r) => r.name)])].sort();
}

function checkTargets(targets: unknown, known: readonly string[]): EnvTarget[] {
  // no targets: every environment the project has now
  if (targets === undefined || targets === null) return [...known];
  const list = typeof targets === 'string' ? [targets] : targets;
  if (!Array.isArray(list) || list.length === 0 || list.some((t) => typeof t !== 'string' || !known.includes(t))) {
    throw new AppError('VALIDATION', `targets must be a non-empty list of this project's environments: ${known.map((k) => JSON.stringify(k)).join(', ')}.`, {
      hint: 'For example: {"value": "…", "targets": ["production", "preview"]}; create a named one with POST /api/v1/projects/<project>/environments.',
    });
  }
  return [...new Set(list as EnvTarget[])].sort();
}

function checkBranch(branch: unknown): string | null {
  if (branch === undefined || branch === null) return null;
  if (typeof branch !== 'string' || branch.trim() === '' || branch.length > 250 || /[\0\s]/.test(branch)) {
    throw new AppError('VALIDATION', 'branch must be a branch name (no spaces, at most 250 characters).', { hint: 'For example: {"value": "…", "targets": ["preview"], "branch": "feature-x"}' });
  }
  return branch;
}

const view = (row: EnvVar): EnvVarView => ({
  key: row.key,
  value: '********',
  targets: row.targets.split(',') as EnvTarget[],
  branch: row.branch,
  createdAt: new Date(Number(row.created_at)).toISOString(),
  updatedAt: new Date(Number(row.updated_at)).toISOString(),
});

/** A project's variables, by name (then branch), values masked. One name may have a row per environment and per branch. */
export async function listEnv(db: Db, projectId: string): Promise<EnvVarView[]> {
  const rows = await db.selectFrom('env_vars').selectAll().where('project_id', '=', projectId).execute();
  const order = (r: EnvVar) => `${r.key}\0${r.branch ?? ''}\0${r.targets}`;
  return rows.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0)).map(view);
}

/**
 * Create or replace a variable's value for some environments (call in a transaction: the count
 * and size checks read the other rows). Only the named environments change: a row of the same
 * name and branch that also holds other environments keeps its value for them, so
 * `{"targets": ["production"]}` after a value for both gives production the new value and leaves
 * preview its old one (what users of Vercel and Netlify expect; deleting preview's value is
 * `DELETE ...?target=preview`). The value is encrypted before it is stored. Deployments made
 * from now on get it; existing ones keep theirs.
 */
export async function setEnv(
  db: Db,
  box: SecretBox,
  projectId: string,
  key: string,
  input: { value?: unknown; targets?: unknown; branch?: unknown },
): Promise<{ created: boolean; variable: EnvVarView }> {
  checkEnvKey(key);
  const value = checkValue(input.value);
  const targets = checkTargets(input.targets, await environmentNames(db, projectId));
  const branch = checkBranch(input.branch);
  const all = await db.selectFrom('env_vars').selectAll().where('project_id', '=', projectId).execute();
  const replaced = all.filter((r) => r.key === key && r.branch === branch && r.targets.split(',').some((t) => targets.includes(t)));
  // what a replaced row held beyond `targets` stays with it (same value, fewer environments)
  const kept = replaced.flatMap((r) => {
    const rest = r.targets.split(',').filter((t) => !targets.includes(t));
    return rest.length === 0 ? [] : [{ ...r, targets: rest.join(',') }];
  });
  const others = [...all.filter((r) => !replaced.includes(r)), ...kept];
  if (others.length >= MAX_VARS_PER_PROJECT) {
    throw new AppError('VALIDATION', `This project already has ${others.length} variables, the most a project can have.`, {
      hint: 'Remove variables it no longer needs, or combine related ones (e.g. one JSON value).',
    });
  }
  const total = others.reduce((sum, o) => sum + Buffer.byteLength(box.decrypt(o.value)) + o.key.length, 0) + Buffer.byteLength(value) + key.length;
  if (total > MAX_TOTAL_BYTES) {
    throw new AppError('VALIDATION', `The project's variables would total ${Math.ceil(total / 1024)} KiB, over the ${MAX_TOTAL_BYTES / 1024} KiB a process environment can safely carry.`, {
      hint: 'Keep large values in a storage service and put their location in a variable.',
    });
  }
  const now = Date.now();
  const createdAt = replaced.reduce((min, r) => Math.min(min, Number(r.created_at)), now);
  const row: EnvVar = { id: newId('v'), project_id: projectId, key, branch, value: box.encrypt(value), targets: targets.join(','), created_at: createdAt, updated_at: now };
  for (const r of kept) await db.updateTable('env_vars').set({ targets: r.targets }).where('id', '=', r.id).execute();
  const gone = replaced.filter((r) => !kept.some((k) => k.id === r.id)).map((r) => r.id);
  if (gone.length > 0) await db.deleteFrom('env_vars').where('id', 'in', gone).execute();
  await db.insertInto('env_vars').values(row).execute();
  return { created: replaced.length === 0, variable: view(row) };
}

/**
 * Remove a variable: every row of the name, or only the branch override (`branch`) and/or only
 * one environment's value (`target`, which leaves the others). Throws NOT_FOUND when nothing matched.
 */
export async function deleteEnv(db: Db, projectId: string, key: string, only: { branch?: string | undefined; target?: string | undefined } = {}): Promise<void> {
  let q = db.selectFrom('env_vars').selectAll().where('project_id', '=', projectId).where('key', '=', key);
  if (only.branch !== undefined) q = q.where('branch', '=', only.branch);
  const rows = (await q.execute()).filter((r) => only.target === undefined || r.targets.split(',').includes(only.target));
  if (rows.length === 0) {
    throw new AppError(
      'NOT_FOUND',
      `This project has no variable named ${JSON.stringify(key.slice(0, 80))}${only.target === undefined ? '' : ` for ${only.target}`}${only.branch === undefined ? '' : ` on branch ${only.branch}`}.`,
      {
        hint: 'List them with GET /api/v1/projects/<project>/env.',
      },
    );
  }
  for (const r of rows) {
    const rest = only.target === undefined ? [] : r.targets.split(',').filter((t) => t !== only.target);
    if (rest.length === 0) await db.deleteFrom('env_vars').where('id', '=', r.id).execute();
    else
      await db
        .updateTable('env_vars')
        .set({ targets: rest.join(','), updated_at: Date.now() })
        .where('id', '=', r.id)
        .execute();
  }
}

/**
 * The variables a new deployment of environment `target` gets, decrypted: the environment's
 * values, then the overrides set for its branch. `{ API_URL: 'https://…' }`
 */
export async function envForTarget(db: Db, box: SecretBox, projectId: string, target: EnvTarget, branch: string | null = null): Promise<Record<string, string>> {
  const rows = await db.selectFrom('env_vars').select(['key', 'value', 'targets', 'branch']).where('project_id', '=', projectId).orderBy('key').execute();
  const env: Record<string, string> = {};
  const applies = rows.filter((r) => r.targets.split(',').includes(target));
  for (const row of applies) if (row.branch === null) env[row.key] = box.decrypt(row.value);
  if (branch !== null) for (const row of applies) if (row.branch === branch) env[row.key] = box.decrypt(row.value);
  return env;
}
