import { AppError } from '../../errors/index.js';
import type { Db } from '../../store/index.js';

export type TargetKind = 'edge' | 'aws';

/**
 * A project's AWS resources. The user may name existing ones (Slipway then only updates them);
 * whatever is missing Slipway makes on the first deployment and records here.
 */
export interface AwsResources {
  /** S3 bucket for the assets (private; CloudFront reads it through the origin access control) */
  bucket?: string;
  originAccessControlId?: string;
  /** the server function; its `live` alias and the alias's Function URL */
  functionName?: string;
  /** the execution role the functions run as (needed to create them) */
  functionRoleArn?: string;
  functionUrl?: string;
  aliasArn?: string;
  imageFunctionName?: string;
  imageFunctionUrl?: string;
  distributionId?: string;
  distributionDomain?: string;
}

/** What the user may name in PUT /projects/<p>/target (the rest is Slipway's record). */
const NAMEABLE: Record<string, RegExp> = {
  bucket: /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
  functionName: /^[\w-]{1,64}$/,
  imageFunctionName: /^[\w-]{1,64}$/,
  functionRoleArn: /^arn:aws(-[a-z]+)*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/,
  distributionId: /^[A-Z0-9]{8,20}$/,
  originAccessControlId: /^[A-Z0-9]{8,20}$/,
};

export interface TargetSetting {
  target: TargetKind;
  /** '' for the whole project, else the environment it is for */
  environment: string;
  resources: AwsResources;
}

/** Check the body of PUT /projects/<p>/target: `{target, environment?, resources?}`. */
export function parseTargetSetting(body: Record<string, unknown>): TargetSetting {
  const extra = Object.keys(body).find((k) => !['target', 'environment', 'resources'].includes(k));
  if (extra !== undefined) throw new AppError('VALIDATION', `Unknown field ${JSON.stringify(extra)}.`, { hint: 'The fields are target, environment and resources.' });
  if (body.target !== 'edge' && body.target !== 'aws')
    throw new AppError('VALIDATION', 'target must be "edge" or "aws".', { hint: 'For example: {"target": "aws", "resources": {"functionRoleArn": "arn:aws:iam::123456789012:role/slipway-fn"}}' });
  const environment = body.environment ?? '';
  if (typeof environment !== 'string' || (environment !== '' && !/^[a-z0-9][a-z0-9-]{0,62}$/.test(environment))) {
    throw new AppError('VALIDATION', 'environment must be an environment name such as "production" or "staging".', { hint: 'Leave it out to set the whole project.' });
  }
  const given = body.resources ?? {};
  if (typeof given !== 'object' || given === null || Array.isArray(given))
    throw new AppError('VALIDATION', 'resources must be an object.', { hint: `Its fields: ${Object.keys(NAMEABLE).join(', ')}.` });
  const resources: Record<string, string> = {};
  for (const [key, value] of Object.entries(given)) {
    const pattern = NAMEABLE[key];
    if (pattern === undefined) throw new AppError('VALIDATION', `resources.${key} cannot be named.`, { hint: `The resources you can name: ${Object.keys(NAMEABLE).join(', ')}.` });
    if (typeof value !== 'string' || !pattern.test(value))
      throw new AppError('VALIDATION', `resources.${key} is not a valid name: ${JSON.stringify(value)}.`, { hint: 'Copy it from the AWS console or CLI.' });
    resources[key] = value;
  }
  return { target: body.target, environment, resources };
}

/** Save a target choice; resources named now replace those named before, what Slipway recorded stays. */
export async function saveTargetSetting(db: Db, projectId: string, setting: TargetSetting): Promise<void> {
  const before = await db.selectFrom('deploy_targets').select('resources').where('project_id', '=', projectId).where('environment', '=', setting.environment).executeTakeFirst();
  const resources = JSON.stringify({ ...(before === undefined ? {} : (JSON.parse(before.resources) as AwsResources)), ...setting.resources });
  const now = Date.now();
  await db
    .insertInto('deploy_targets')
    .values({ project_id: projectId, environment: setting.environment, target: setting.target, resources, updated_at: now })
    .onConflict((oc) => oc.columns(['project_id', 'environment']).doUpdateSet({ target: setting.target, resources, updated_at: now }))
    .execute();
}

export async function listTargetSettings(db: Db, projectId: string): Promise<TargetSetting[]> {
  const rows = await db.selectFrom('deploy_targets').selectAll().where('project_id', '=', projectId).orderBy('environment').execute();
  return rows.map((r) => ({ target: r.target, environment: r.environment, resources: JSON.parse(r.resources) as AwsResources }));
}

/**
 * Where a deployment for `environment` goes live: the environment's own choice, else the
 * project's, else the edge. `setting.environment` says which row it came from (its resources are recorded there).
 */
export async function resolveTarget(db: Db, projectId: string, environment: string): Promise<TargetSetting> {
  const rows = await listTargetSettings(db, projectId);
  return rows.find((r) => r.environment === environment) ?? rows.find((r) => r.environment === '') ?? { target: 'edge', environment: '', resources: {} };
}

/** Record resources Slipway made (merged into the row the target came from). */
export async function recordResources(db: Db, projectId: string, environment: string, made: AwsResources): Promise<void> {
  const row = await db.selectFrom('deploy_targets').select('resources').where('project_id', '=', projectId).where('environment', '=', environment).executeTakeFirst();
  if (row === undefined) return;
  const resources = JSON.stringify({ ...(JSON.parse(row.resources) as AwsResources), ...made });
  await db.updateTable('deploy_targets').set({ resources, updated_at: Date.now() }).where('project_id', '=', projectId).where('environment', '=', environment).execute();
}
