import type { Config } from '../../config/index.js';
import { branchSlug } from '../../deployments/index.js';
import { edgeOrigin } from '../../projects/index.js';
import type { Deployment, Project, Store } from '../../store/index.js';
import { saveAwsRecord } from './record.js';

/**
 * Where Slipway's edge serves a preview: its pull request's URL, else its branch's, else the
 * deployment's own (the same choice as the deployment's URLs in the API).
 */
export function edgePreviewUrl(config: Config, project: Pick<Project, 'name'>, d: Pick<Deployment, 'id' | 'pr_number' | 'branch' | 'head_repo'>): string {
  if (d.pr_number !== null) return edgeOrigin(config, `pr-${Number(d.pr_number)}--${project.name}`);
  if (d.branch !== null && d.head_repo === null) return edgeOrigin(config, `${branchSlug(d.branch, project.name)}--${project.name}`);
  return edgeOrigin(config, `${d.id}--${project.name}`);
}

/**
 * A static site's preview on a project that deploys to AWS. On AWS nothing would serve it: it
 * has no function (so no alias or Function URL of its own) and the distribution serves
 * production only; a distribution per preview takes CloudFront minutes to create and counts
 * against the account's quota. So Slipway's own edge serves it at its usual preview URL (the
 * worker records its manifest as for any deployment), nothing is uploaded to S3, and the AWS
 * record says where it is served. No AWS call is made: it works without the team's AWS access.
 */
export async function serveStaticPreviewOnEdge(deps: { store: Store; config: Config }, project: Project, deployment: Deployment, log: (line: string) => void): Promise<void> {
  const url = edgePreviewUrl(deps.config, project, deployment);
  await saveAwsRecord(deps.store.db, deployment.id, {
    steps: [],
    servedBy: { target: 'edge', url, reason: 'a static preview has no function on AWS: Slipway serves it, and nothing is uploaded to S3' },
  });
  log(`A static preview: Slipway's edge serves it at ${url} (nothing uploaded to AWS; production on AWS does not change).`);
}
