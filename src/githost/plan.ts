import type { Config } from '../config/index.js';
import { branchSlug } from '../deployments/index.js';
import { edgeOrigin } from '../projects/index.js';
import type { Deployment } from '../store/index.js';

/**
 * What the git host should have heard about a deployment, as an ordered list of steps. The
 * reporter sends the part of this list it has not sent yet, so a deployment that went from
 * queued to ready between two looks still reports queued, in_progress and success in order.
 */
export type Step = 'queued' | 'in_progress' | 'awaiting' | 'success' | 'failure' | 'error' | 'inactive';

export type ReportedDeployment = Pick<Deployment, 'id' | 'project_id' | 'seq' | 'status' | 'environment' | 'branch' | 'commit_sha' | 'pr_number' | 'started_at' | 'error_message' | 'created_at'>;

/**
 * `aliased`: some alias points at the deployment now. A ready preview no alias points at was
 * replaced by a newer one (or its pull request closed): it is `inactive`.
 */
export function plannedSteps(d: ReportedDeployment, aliased: boolean): Step[] {
  const steps: Step[] = ['queued'];
  // a string: the environments work adds 'awaiting-approval' and 'rejected'
  const status: string = d.status;
  if (status === 'queued') return steps;
  const started = d.started_at !== null || status === 'building' || status === 'deploying' || status === 'ready' || status === 'awaiting-approval';
  if (started) steps.push('in_progress');
  if (status === 'building' || status === 'deploying') return steps;
  if (status === 'awaiting-approval') return [...steps, 'awaiting'];
  if (status === 'ready') {
    steps.push('success');
    const preview = d.environment !== 'production' && (d.branch !== null || d.pr_number !== null);
    if (preview && !aliased) steps.push('inactive');
    return steps;
  }
  if (status === 'canceled') return [...steps, 'error'];
  // failed, rejected, and any end state this code does not know yet
  return [...steps, 'failure'];
}

/** The GitHub deployment status state of a step. */
export function githubState(step: Step): 'queued' | 'in_progress' | 'success' | 'failure' | 'error' | 'inactive' {
  return step === 'awaiting' ? 'in_progress' : step;
}

/** The commit status of a step: GitHub's four states (GitLab names two of them differently). */
export function commitState(step: Step): 'pending' | 'success' | 'failure' | 'error' {
  if (step === 'success' || step === 'inactive') return 'success';
  if (step === 'failure' || step === 'error') return step;
  return 'pending';
}

/** A short sentence for the git host's status line (GitHub allows 140 characters). */
export function describe(step: Step, d: ReportedDeployment): string {
  // the git host shows this to everyone who can see the repository: the first line of the reason only
  const reason = d.error_message === null ? '' : `: ${d.error_message.split('\n')[0]}`;
  const text: Record<Step, string> = {
    queued: 'Queued for a build',
    in_progress: 'Building',
    awaiting: 'Built; waiting for approval',
    success: 'Deployed',
    failure: (d.status as string) === 'rejected' ? 'Rejected' : `Failed${reason}`,
    error: `Canceled${reason}`,
    inactive: 'Replaced by a newer deployment',
  };
  const s = text[step];
  return s.length > 140 ? `${s.slice(0, 139)}…` : s;
}

/** The URL the deployment serves at for its environment: the pull request's, the branch's, production's or the named environment's alias. */
export function environmentUrl(config: Config, projectName: string, d: ReportedDeployment): string {
  if (d.environment === 'production') return edgeOrigin(config, projectName);
  if (d.pr_number !== null) return edgeOrigin(config, `pr-${d.pr_number}--${projectName}`);
  if (d.environment === 'preview' && d.branch !== null) return edgeOrigin(config, `${branchSlug(d.branch, projectName)}--${projectName}`);
  if (d.environment !== 'preview') return edgeOrigin(config, `${d.environment}--${projectName}`);
  return edgeOrigin(config, `${d.id}--${projectName}`);
}

/** The deployment's page in the dashboard (its build log). */
export function logUrl(config: Config, projectName: string, d: Pick<Deployment, 'id'>): string {
  return `${config.publicUrl}/p/${encodeURIComponent(projectName)}/d/${encodeURIComponent(d.id)}`;
}

/** The GitHub environment name: one per project and environment, one per pull request or branch for previews. */
export function githubEnvironment(projectName: string, d: ReportedDeployment): string {
  if (d.environment !== 'preview') return `${projectName} / ${d.environment}`;
  if (d.pr_number !== null) return `${projectName} / pr-${d.pr_number}`;
  return `${projectName} / ${d.branch === null ? 'preview' : branchSlug(d.branch, projectName)}`;
}

/** The commit status context: one per project and environment, so two projects built from one repository (a monorepo) do not overwrite each other's status. */
export function statusContext(projectName: string, d: Pick<Deployment, 'environment'>): string {
  return `slipway/${projectName}/${d.environment}`;
}
