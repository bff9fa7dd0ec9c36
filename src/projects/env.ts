import { AppError } from '../errors/index.js';
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

function checkTargets(targets: unknown): EnvTarget[] {
  if (targets === undefined || targets === null) return [...ENV_TARGETS];
  const list = typeof targets === 'string' ? [targets] : targets;
  if (!Array.isArray(list) || list.length === 0 || list.some((t) => !ENV_TARGETS.includes(t as EnvTarget))) {
    throw new AppError('VALIDATION', 'targets must be a non-empty list of "production" and/or "preview".', { hint: 'For example: {"value": "…", "targets": ["production", "preview"]}' });
  }
  return [...new Set(list as EnvTarget[])].sort();
}

const view = (row: EnvVar): EnvVarView => ({
  key: row.key,
  value: '********',
  targets: row.targets.split(',') as EnvTarget[],
  createdAt: new Date(Number(row.created_at)).toISOString(),
  updatedAt: new Date(Number(row.updated_at)).toISOString(),
});

/** A project's variables, by name, values masked. */
export async function listEnv(db: Db, projectId: string): Promise<EnvVarView[]> {
  const rows = await db.selectFrom('env_vars').selectAll().where('project_id', '=', projectId).orderBy('key').execute();
  return rows.map(view);
}

/**
 * Create or replace one variable (call in a transaction: the count and size checks read the
 * other rows). The value is encrypted before it is stored. Deployments made from now on get it;
 * existing ones keep the copy they were made with.
 */
export async function setEnv(db: Db, box: SecretBox, projectId: string, key: string, input: { value?: unknown; targets?: unknown }): Promise<{ created: boolean; variable: EnvVarView }> {
  checkEnvKey(key);
  const value = checkValue(input.value);
  const targets = checkTargets(input.targets);
  const others = await db.selectFrom('env_vars').select(['key', 'value']).where('project_id', '=', projectId).where('key', '!=', key).execute();
  const existing = await db.selectFrom('env_vars').select('created_at').where('project_id', '=', projectId).where('key', '=', key).executeTakeFirst();
  if (existing === undefined && others.length >= MAX_VARS_PER_PROJECT) {
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
  const row: EnvVar = { project_id: projectId, key, value: box.encrypt(value), targets: targets.join(','), created_at: existing?.created_at ?? now, updated_at: now };
  await db
    .insertInto('env_vars')
    .values(row)
    .onConflict((oc) => oc.columns(['project_id', 'key']).doUpdateSet({ value: row.value, targets: row.targets, updated_at: now }))
    .execute();
  return { created: existing === undefined, variable: view(row) };
}

/** Remove a variable; throws NOT_FOUND when the project has none by that name. */
export async function deleteEnv(db: Db, projectId: string, key: string): Promise<void> {
  const result = await db.deleteFrom('env_vars').where('project_id', '=', projectId).where('key', '=', key).executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) {
    throw new AppError('NOT_FOUND', `This project has no variable named ${JSON.stringify(key.slice(0, 80))}.`, { hint: 'List them with GET /api/v1/projects/<project>/env.' });
  }
}

/** The variables a new deployment of `target` gets, decrypted: `{ API_URL: 'https://…' }`. */
export async function envForTarget(db: Db, box: SecretBox, projectId: string, target: EnvTarget): Promise<Record<string, string>> {
  const rows = await db.selectFrom('env_vars').select(['key', 'value', 'targets']).where('project_id', '=', projectId).orderBy('key').execute();
  const env: Record<string, string> = {};
  for (const row of rows) if (row.targets.split(',').includes(target)) env[row.key] = box.decrypt(row.value);
  return env;
}
