import type { BuildResult } from '../../build/types.js';
import type { Config } from '../../config/index.js';
import { aliasTarget, branchSlug, deploymentEnv, getDeployment, PRODUCTION } from '../../deployments/index.js';
import { goLivePlan } from '../../environments/index.js';
import { AppError } from '../../errors/index.js';
import type { SecretBox } from '../../secrets.js';
import type { Db, Deployment, Project, Store } from '../../store/index.js';
import { readAwsAccess } from './access.js';
import { type AwsClients, awsClients } from './clients.js';
import { type AwsBuildOutput, deployToAws, LIVE_ALIAS } from './deploy.js';
import { recordServedByEdge, recordServedThroughEdge, servedByEdge } from './preview.js';
import { switchAwsLive } from './switch.js';
import { resolveTarget, type TargetSetting } from './target.js';

export interface AwsDeps {
  store: Store;
  box: SecretBox;
  config: Config;
}

/**
 * The Lambda alias a deployment goes live on: `live` for production, `env-<name>` for a named
 * environment, and for previews their own alias and Function URL (`pr-<n>`, `br-<branch-slug>`)
 * rather than a header-based route through the production distribution: a preview then never
 * shares a cache or a config change with production.
 */
export function awsAliasFor(project: Pick<Project, 'name'>, deployment: Pick<Deployment, 'environment' | 'pr_number' | 'branch'>): string | undefined {
  if (deployment.environment === 'production') return LIVE_ALIAS;
  if (deployment.environment !== 'preview') return `env-${deployment.environment}`;
  if (deployment.pr_number !== null) return `pr-${deployment.pr_number}`;
  // prefixed: a branch named `live` or `env-x` must not take production's or an environment's alias
  return deployment.branch === null ? undefined : `br-${branchSlug(deployment.branch, project.name)}`.slice(0, 100);
}

async function clientsFor(deps: Pick<AwsDeps, 'box' | 'config'>, db: Db, project: Project): Promise<AwsClients> {
  const access = project.team_id === null ? undefined : await readAwsAccess({ db }, deps.box, project.team_id);
  if (access === undefined) throw new AppError('AWS_NOT_CONFIGURED', `Project ${project.name} deploys to AWS, but its team has no AWS access.`);
  return awsClients(access, deps.config.awsEndpoints);
}

/** What the build gives the AWS target: OpenNext's output when the builder made one, else the static output folder. */
export function awsOutputOf(build: BuildResult & { aws?: AwsBuildOutput }): AwsBuildOutput {
  if (build.aws !== undefined) return build.aws;
  if (build.server !== undefined) {
    throw new AppError('AWS_TARGET_INCOMPLETE', `This ${build.framework.name} build runs a server, and Slipway can only put Next.js servers (through OpenNext) on Lambda.`, {
      hint: 'Deploy it to the edge (slipway target set <project> edge), or build it as a static site.',
    });
  }
  return { assetsDir: build.outputDir, functions: [], immutable: build.framework.immutable ?? [] };
}

/**
 * The worker's one call after packaging: for a project whose target is AWS, upload, publish and
 * switch its alias on AWS before Slipway's own aliases move; for the edge, nothing.
 */
export async function goLiveOnAws(deps: AwsDeps, project: Project, deployment: Deployment, build: BuildResult, log: (line: string) => void): Promise<void> {
  const setting: TargetSetting = await resolveTarget(deps.store.db, project.id, deployment.environment);
  if (setting.target !== 'aws') return;
  const output = awsOutputOf(build);
  const aws = await clientsFor(deps, deps.store.db, project);
  try {
    const plan = await goLivePlan(deps.store.db, project, deployment.environment);
    // an environment waiting for approval (or not promoting by itself) publishes but moves nothing
    const goesLive = deployment.environment === 'preview' || (!plan.waits && plan.autoPromote);
    // nothing on AWS would serve a static preview (no function, so no alias of its own): Slipway's edge does
    const onEdge = servedByEdge(output, deployment);
    const alias = goesLive && !onEdge ? awsAliasFor(project, deployment) : undefined;
    const previous = (await aliasTarget(deps.store.db, project.id, PRODUCTION)) ?? undefined;
    log(`Deploying to AWS (${aws.region})${alias === undefined ? '' : `, alias ${alias}`}`);
    const record = await deployToAws({
      db: deps.store.db,
      aws,
      project,
      deploymentId: deployment.id,
      setting,
      output,
      alias,
      // the deployment's own snapshot: what its SSR server would get on the edge, kept by the version it publishes
      environment: deploymentEnv(deps.box, deployment),
      log,
      ...(previous === undefined || previous === deployment.id ? {} : { previousDeploymentId: previous }),
    });
    if (onEdge) await recordServedByEdge(deps.store.db, deps.config, project, deployment, record, log);
    else if (alias !== undefined && alias !== LIVE_ALIAS) await recordServedThroughEdge(deps.store.db, deps.config, project, deployment, record, log);
  } finally {
    aws.destroy();
  }
}

/**
 * Promote and rollback for a project on AWS: the `live` alias and the asset root to that
 * deployment, inside the transaction that moves Slipway's own alias (`db` is that
 * transaction), so a refusal from AWS leaves both where they were.
 */
export async function switchOnAws(deps: Pick<AwsDeps, 'box' | 'config'>, db: Db, project: Project, deploymentId: string, environment = 'production'): Promise<void> {
  if (environment !== 'production') return;
  const setting = await resolveTarget(db, project.id, environment);
  if (setting.target !== 'aws') return;
  const d = await getDeployment(db, deploymentId);
  if (d.status !== 'ready') return; // Slipway's promote answers NOT_READY itself
  const aws = await clientsFor(deps, db, project);
  try {
    await switchAwsLive({ db, aws, resources: setting.resources, deploymentId });
  } finally {
    aws.destroy();
  }
}
