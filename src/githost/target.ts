import type { Config } from '../config/index.js';
import type { ReportedDeployment, Step } from './plan.js';

/** What one report needs to know besides the steps. */
export interface ReportContext {
  config: Config;
  projectName: string;
  d: ReportedDeployment;
  /** "owner/name" (GitLab: the project path) */
  repo: string;
  /** the git host's own record of the deployment (a GitHub Deployment id), once made */
  remoteId: number | null;
  /** records the remote id as soon as it exists, so a crash cannot make a second one */
  saveRemoteId: (id: number) => Promise<void>;
}

/** A git host the reporter can talk to: GitHub and GitLab implement it. */
export interface HostTarget {
  /** the key its rate limit is shared under (one token or App per API) */
  readonly limitKey: string;
  /** tell the host about one step of the deployment (GitHub: a deployment status) */
  sendStep(ctx: ReportContext, step: Step): Promise<void>;
  /** the status of the built commit */
  commitStatus(ctx: ReportContext, step: Step): Promise<void>;
  /** create or edit the one comment on the pull request; returns its id */
  upsertComment(ctx: ReportContext, step: Step, knownId: number | null): Promise<number>;
}
