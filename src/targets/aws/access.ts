import { AppError } from '../../errors/index.js';
import type { SecretBox } from '../../secrets.js';
import type { Db, Store } from '../../store/index.js';

/**
 * A team's AWS access: an access key pair, or a role Slipway assumes with STS (its trust policy
 * names Slipway's principal and demands the external id). The secret parts are SecretBox-encrypted.
 */
export type AwsAccess =
  | { kind: 'keys'; region: string; accessKeyId: string; secretAccessKey: string; updatedAt: number }
  | { kind: 'role'; region: string; roleArn: string; externalId?: string; updatedAt: number };

export type AwsAccessInput = AwsAccess extends infer A ? (A extends AwsAccess ? Omit<A, 'updatedAt'> : never) : never;

const EXAMPLE =
  'For example: {"region": "eu-west-1", "accessKeyId": "AKIA…", "secretAccessKey": "…"} or {"region": "eu-west-1", "roleArn": "arn:aws:iam::123456789012:role/slipway-deployer", "externalId": "…"}';
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
const ROLE_ARN = /^arn:aws(-[a-z]+)*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;

/** Check a PUT /teams/<team>/aws body. */
export function parseAwsAccess(body: unknown): AwsAccessInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AppError('VALIDATION', 'The body must be a JSON object.', { hint: EXAMPLE });
  const b = body as Record<string, unknown>;
  const known = new Set(['region', 'accessKeyId', 'secretAccessKey', 'roleArn', 'externalId']);
  const extra = Object.keys(b).find((k) => !known.has(k));
  if (extra !== undefined) throw new AppError('VALIDATION', `Unknown field ${JSON.stringify(extra)}.`, { hint: 'The fields are region, accessKeyId, secretAccessKey, roleArn and externalId.' });
  if (typeof b.region !== 'string' || !REGION.test(b.region)) throw new AppError('VALIDATION', 'region must be an AWS region such as "eu-west-1".', { hint: EXAMPLE });
  const hasKeys = b.accessKeyId !== undefined || b.secretAccessKey !== undefined;
  if (hasKeys && b.roleArn !== undefined) throw new AppError('VALIDATION', 'Give an access key pair or a role ARN, not both.', { hint: EXAMPLE });
  if (b.roleArn !== undefined) {
    if (typeof b.roleArn !== 'string' || !ROLE_ARN.test(b.roleArn))
      throw new AppError('VALIDATION', 'roleArn must be an IAM role ARN.', { hint: 'For example: "arn:aws:iam::123456789012:role/slipway-deployer"' });
    if (b.externalId !== undefined && (typeof b.externalId !== 'string' || !/^[\w+=,.@:/-]{2,1224}$/.test(b.externalId))) {
      throw new AppError('VALIDATION', 'externalId must be 2 to 1224 letters, digits or +=,.@:/-', { hint: "Use the external id the role's trust policy demands (sts:ExternalId)." });
    }
    return { kind: 'role', region: b.region, roleArn: b.roleArn, ...(b.externalId === undefined ? {} : { externalId: b.externalId as string }) };
  }
  if (typeof b.accessKeyId !== 'string' || !/^(AKIA|ASIA)[A-Z0-9]{12,124}$/.test(b.accessKeyId))
    throw new AppError('VALIDATION', 'accessKeyId must be an AWS access key id (AKIA…).', { hint: EXAMPLE });
  if (typeof b.secretAccessKey !== 'string' || b.secretAccessKey.length < 16 || b.secretAccessKey.length > 128)
    throw new AppError('VALIDATION', 'secretAccessKey must be the secret of that access key.', { hint: EXAMPLE });
  return { kind: 'keys', region: b.region, accessKeyId: b.accessKeyId, secretAccessKey: b.secretAccessKey };
}

export async function saveAwsAccess(db: Db, box: SecretBox, teamId: string, access: AwsAccessInput): Promise<void> {
  const row = {
    kind: access.kind,
    region: access.region,
    role_arn: access.kind === 'role' ? access.roleArn : null,
    key_hint: access.kind === 'keys' ? access.accessKeyId.slice(-4) : null,
    secret: box.encrypt(JSON.stringify(access.kind === 'keys' ? { accessKeyId: access.accessKeyId, secretAccessKey: access.secretAccessKey } : { externalId: access.externalId })),
    updated_at: Date.now(),
  };
  await db
    .insertInto('team_aws_access')
    .values({ team_id: teamId, ...row })
    .onConflict((oc) => oc.column('team_id').doUpdateSet(row))
    .execute();
}

export async function deleteAwsAccess(db: Db, teamId: string): Promise<boolean> {
  const r = await db.deleteFrom('team_aws_access').where('team_id', '=', teamId).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** The team's access, decrypted (only the worker and `aws check` use this), or undefined. */
export async function readAwsAccess(store: Store | { db: Db }, box: SecretBox, teamId: string): Promise<AwsAccess | undefined> {
  const row = await store.db.selectFrom('team_aws_access').selectAll().where('team_id', '=', teamId).executeTakeFirst();
  if (row === undefined) return undefined;
  const secret = JSON.parse(box.decrypt(row.secret)) as { accessKeyId?: string; secretAccessKey?: string; externalId?: string };
  const updatedAt = Number(row.updated_at);
  if (row.kind === 'role') return { kind: 'role', region: row.region, roleArn: row.role_arn as string, ...(secret.externalId === undefined ? {} : { externalId: secret.externalId }), updatedAt };
  return { kind: 'keys', region: row.region, accessKeyId: secret.accessKeyId as string, secretAccessKey: secret.secretAccessKey as string, updatedAt };
}

/** What the API shows: never the secret, the key id only by its last 4 characters, the external id only as "set". */
export function maskAwsAccess(access: AwsAccess): Record<string, unknown> {
  const common = { kind: access.kind, region: access.region, updatedAt: new Date(access.updatedAt).toISOString() };
  if (access.kind === 'keys') return { ...common, accessKeyId: `…${access.accessKeyId.slice(-4)}` };
  return { ...common, roleArn: access.roleArn, externalId: access.externalId === undefined ? null : 'set' };
}
