import { AppError } from '../../errors/index.js';
import type { Db } from '../../store/index.js';
import type { AwsClients } from './clients.js';
import { LIVE_ALIAS } from './deploy.js';
import { invalidate, setAssetRoot } from './distribution.js';
import { awsErrorDetail } from './errors.js';
import { pointAlias } from './functions.js';
import { readAwsRecord } from './record.js';
import type { AwsResources } from './target.js';

/**
 * Promote or roll back on AWS: the `live` alias to the versions that deployment published and
 * the distribution's asset root to its files. Nothing is rebuilt or uploaded again; the
 * deployment's versions and assets were kept. A failure puts the alias back.
 */
export async function switchAwsLive(opts: { db: Db; aws: AwsClients; resources: AwsResources; deploymentId: string }): Promise<{ versions: Record<string, string>; assetRoot: string }> {
  const record = await readAwsRecord(opts.db, opts.deploymentId);
  if (record?.assetRoot === undefined || !record.steps.some((s) => s.name === 'upload' && s.status === 'done')) {
    throw new AppError('NOT_READY', `Deployment ${opts.deploymentId} was never deployed to AWS completely.`, { hint: 'Promote a deployment whose AWS steps all finished, or deploy it again.' });
  }
  const moved: { functionName: string; previousVersion?: string }[] = [];
  const versions: Record<string, string> = {};
  try {
    for (const [name, v] of Object.entries(record.versions ?? {})) {
      const pointed = await pointAlias(opts.aws.lambda, v.functionName, LIVE_ALIAS, v.version, `slipway deployment ${opts.deploymentId}`);
      moved.push({ functionName: v.functionName, ...(pointed.previousVersion === undefined ? {} : { previousVersion: pointed.previousVersion }) });
      versions[name] = v.version;
    }
    if (opts.resources.distributionId !== undefined) {
      await setAssetRoot(opts.aws.cloudfront, opts.resources.distributionId, record.assetRoot);
      await invalidate(opts.aws.cloudfront, opts.resources.distributionId, record.mutablePaths ?? [], `slipway-${opts.deploymentId}-${Date.now()}`);
    }
  } catch (err) {
    for (const m of moved) {
      if (m.previousVersion !== undefined) await pointAlias(opts.aws.lambda, m.functionName, LIVE_ALIAS, m.previousVersion, 'restored by slipway after a failed switch').catch(() => {});
    }
    const detail = awsErrorDetail(err, 'switch');
    throw new AppError('AWS_DEPLOY_FAILED', `AWS switch failed: ${detail.code}: ${detail.message}`, { hint: detail.hint, cause: err });
  }
  return { versions, assetRoot: record.assetRoot };
}
