import { branchAlias, branchSlug, prAlias } from '../../deployments/aliases.js';
import { checkFunctionOrigin } from '../../edge/function-origin.js';
import type { FunctionOrigin } from '../../edge/types.js';
import type { Db } from '../../store/index.js';
import type { AwsRecord } from './record.js';

/*
 * Read by the edge's routing lookup on every Host it resolves, so this file imports no AWS SDK
 * (edge processes never load it) and reads two rows at most.
 */

/**
 * The Slipway alias that follows a preview's Lambda alias: `pr-<n>` is `pr:<n>`, `br-<slug>` is
 * `branch:<slug>`, `env-<name>` is `env:<name>` (see awsAliasFor). undefined for `live`
 * (production is CloudFront's) and for anything that does not match the deployment.
 */
function slipwayAliasOf(lambdaAlias: string, projectName: string, d: { environment: string; pr_number: number | null; branch: string | null }): string | undefined {
  if (d.environment === 'production') return undefined;
  if (d.environment !== 'preview') return lambdaAlias === `env-${d.environment}` ? `env:${d.environment}` : undefined;
  if (d.pr_number !== null) return lambdaAlias === `pr-${Number(d.pr_number)}` ? prAlias(Number(d.pr_number)) : undefined;
  if (d.branch === null) return undefined;
  const slug = branchSlug(d.branch, projectName);
  return lambdaAlias === `br-${slug}`.slice(0, 100) ? branchAlias(slug) : undefined;
}

/**
 * Where Slipway's edge proxies an AWS Next.js preview: the Function URL of the Lambda alias the
 * deployment went live on, from its AWS record, while that alias still serves it. A Function URL
 * belongs to an alias, not a version: once a newer push moved `pr-7` on, the older deployment's
 * own URL must not show the newer code, so it is served from its files only (its static files
 * are in its manifest; pages need the newer preview's URL). Slipway's alias moves right after
 * Lambda's (the worker's go-live), so "Slipway's alias still points here" is the test.
 *
 * `via`: SLIPWAY_AWS_ENDPOINT, where Function URLs are reached instead of AWS's public hosts.
 */
export async function previewOrigin(db: Db, deploymentId: string, via: string | undefined): Promise<FunctionOrigin | undefined> {
  const row = await db
    .selectFrom('aws_deployments')
    .innerJoin('deployments', 'deployments.id', 'aws_deployments.deployment_id')
    .innerJoin('projects', 'projects.id', 'deployments.project_id')
    .select(['aws_deployments.record', 'deployments.project_id', 'deployments.environment', 'deployments.pr_number', 'deployments.branch', 'projects.name'])
    .where('aws_deployments.deployment_id', '=', deploymentId)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  const record = JSON.parse(row.record) as AwsRecord;
  const url = record.alias?.url;
  // the edge checks it again before each proxied request; a record that is not a Function URL is no origin
  if (url === undefined || typeof checkFunctionOrigin({ url }) === 'string') return undefined;
  const alias = slipwayAliasOf(record.alias?.name ?? '', row.name, { environment: row.environment, pr_number: row.pr_number === null ? null : Number(row.pr_number), branch: row.branch });
  if (alias === undefined) return undefined;
  const held = await db.selectFrom('aliases').select('deployment_id').where('project_id', '=', row.project_id).where('name', '=', alias).executeTakeFirst();
  if (held?.deployment_id !== deploymentId) return undefined;
  return via === undefined ? { url } : { url, via };
}
