import type { Db } from '../../store/index.js';
import type { AwsErrorDetail } from './errors.js';

/** One step of a deployment on AWS, with its timing; a retry skips the steps already `done`. */
export interface AwsStep {
  name: string;
  status: 'done' | 'failed';
  startedAt: string;
  ms: number;
  /** what the step did, in numbers or ids (objects uploaded, the version published) */
  detail?: Record<string, unknown>;
}

/** The AWS side of one deployment, as the API shows it (GET /deployments/<id>/aws). */
export interface AwsRecord {
  steps: AwsStep[];
  /** the S3 prefix its non-fingerprinted files live under (CloudFront's OriginPath while it is live) */
  assetRoot?: string;
  /** paths CloudFront may cache that are not fingerprinted: invalidated when it goes live */
  mutablePaths?: string[];
  /** per function ('server', 'image'): the version published for this deployment */
  versions?: Record<string, { functionName: string; version: string; versionArn: string; codeSha256: string }>;
  /** the alias this deployment moved, and the version it pointed at before (a failure puts it back) */
  alias?: { name: string; arn: string; url?: string; previousVersion?: string };
  distribution?: { id: string; domainName: string; status: string; etag: string; invalidationId?: string };
  /**
   * set for a preview Slipway's edge serves: a static one wholly, a Next.js one with its static
   * files and `functionUrl` (its alias's Function URL) for the rest
   */
  servedBy?: { target: 'edge'; url: string; reason: string; functionUrl?: string };
  error?: AwsErrorDetail & { step: string };
}

export async function readAwsRecord(db: Db, deploymentId: string): Promise<AwsRecord | undefined> {
  const row = await db.selectFrom('aws_deployments').select('record').where('deployment_id', '=', deploymentId).executeTakeFirst();
  return row === undefined ? undefined : (JSON.parse(row.record) as AwsRecord);
}

export async function saveAwsRecord(db: Db, deploymentId: string, record: AwsRecord): Promise<void> {
  const value = { record: JSON.stringify(record), updated_at: Date.now() };
  await db
    .insertInto('aws_deployments')
    .values({ deployment_id: deploymentId, ...value })
    .onConflict((oc) => oc.column('deployment_id').doUpdateSet(value))
    .execute();
}
