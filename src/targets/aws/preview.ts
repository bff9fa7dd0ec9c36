import type { Config } from '../../config/index.js';
import { deploymentUrls } from '../../deployments/index.js';
import type { Db, Deployment, Project } from '../../store/index.js';
import { type AwsRecord, saveAwsRecord } from './record.js';

/** Where Slipway's edge serves a preview: its pull request's URL, else its branch's, else the deployment's own. */
export function edgePreviewUrl(config: Config, project: Pick<Project, 'name'>, d: Pick<Deployment, 'id' | 'pr_number' | 'branch' | 'head_repo'>): string {
  const urls = deploymentUrls(config, project, d);
  return urls.pullRequestUrl ?? urls.branchUrl ?? urls.url;
}

/** A preview without a function: nothing on AWS serves it (see docs/aws.md, "Static previews"). */
export const servedByEdge = (output: { functions: readonly unknown[] }, deployment: Pick<Deployment, 'environment'>) => output.functions.length === 0 && deployment.environment === 'preview';

/**
 * Record where a static preview is served. On AWS nothing would serve it: it has no function
 * (so no alias or Function URL of its own) and the distribution serves production only; a
 * distribution per preview takes CloudFront minutes to create and counts against the account's
 * quota. So Slipway's own edge serves it at its usual preview URL (the worker records its
 * manifest as for any deployment). Its files are still uploaded (publish only, mostly S3-side
 * copies of production's): promoting it to production stays an asset-root move, never a rebuild.
 */
export async function recordServedByEdge(db: Db, config: Config, project: Project, deployment: Deployment, record: AwsRecord, log: (line: string) => void): Promise<void> {
  const url = edgePreviewUrl(config, project, deployment);
  record.servedBy = { target: 'edge', url, reason: 'a static preview has no function on AWS and the distribution serves production: Slipway serves it' };
  await saveAwsRecord(db, deployment.id, record);
  log(`A static preview: Slipway's edge serves it at ${url}. Its files are on S3 too, so promoting it moves production on AWS without a rebuild.`);
}

/**
 * Record where a Next.js preview is served: at its usual Slipway preview URL, where the edge
 * answers with the deployment's static files and proxies the rest to its alias's Function URL
 * (see ../../edge/function-origin.ts), so the link in a pull request works as on the edge.
 */
export async function recordServedThroughEdge(db: Db, config: Config, project: Project, deployment: Deployment, record: AwsRecord, log: (line: string) => void): Promise<void> {
  const functionUrl = record.alias?.url;
  if (functionUrl === undefined) return;
  const url = edgePreviewUrl(config, project, deployment);
  record.servedBy = { target: 'edge', url, functionUrl, reason: "the edge serves the preview's static files and proxies the rest to its Lambda alias's Function URL" };
  await saveAwsRecord(db, deployment.id, record);
  log(`A Next.js preview on AWS: Slipway's edge serves it at ${url}, its static files itself and everything else from ${functionUrl}`);
}
