import { branchAlias, branchSlug, prAlias } from '../deployments/index.js';
import { previewSettings, type PreviewSettings } from '../projects/index.js';
import type { Project } from '../store/index.js';
import { globMatches, pathMatches } from './globs.js';
import type { Delivery, PullRequestEvent, PushEvent } from './types.js';

/** What a verified delivery asks of a project. */
export type Plan =
  | { kind: 'ignore'; reason: string }
  /** the ignored build step says this push changes nothing that matters */
  | { kind: 'skip'; reason: string; sha: string; branch: string }
  /** take a preview alias away (branch deleted, pull request closed) */
  | { kind: 'remove'; alias: string; reason: string; prNumber: number | null }
  | { kind: 'build'; build: PlannedBuild };

export interface PlannedBuild {
  sha: string;
  branch: string | null;
  target: 'production' | 'preview';
  prNumber: number | null;
  sourceRepo: string | null;
  headRepo: string | null;
  /** a fork's commits never see the project's variables */
  withoutEnv: boolean;
  message: string | null;
  author: string | null;
  supersedes: string[];
  /** the alias this build is for, which a new push or a reopened pull request brings back */
  alias: string;
}

/**
 * The paths a push changed, from the payload, else asked of the repository; undefined: unknown
 * (then the push builds: skipping is only for a push known to change nothing that matters).
 */
export type ChangedFiles = (before: string, after: string, listed: string[] | undefined) => Promise<string[] | undefined>;

/** Decide, before any write, what a delivery means for this project under its preview settings. */
export async function planDelivery(project: Project, delivery: Delivery, changedFiles: ChangedFiles): Promise<Plan> {
  const settings = previewSettings(project);
  const { event } = delivery;
  if (event.kind === 'ignored') return { kind: 'ignore', reason: event.reason };
  if (event.kind === 'ping') return { kind: 'ignore', reason: 'ping' };
  if (event.kind === 'push') return planPush(project, settings, event, changedFiles);
  return planPullRequest(settings, delivery, event, changedFiles);
}

async function planPush(project: Project, settings: PreviewSettings, push: PushEvent, changedFiles: ChangedFiles): Promise<Plan> {
  const production = push.branch === project.production_branch;
  const alias = branchAlias(branchSlug(push.branch, project.name));
  if (push.sha === null) {
    if (production) return { kind: 'ignore', reason: `the production branch ${push.branch} was deleted; production stays where it is` };
    return { kind: 'remove', alias, reason: `branch ${push.branch} was deleted`, prNumber: null };
  }
  if (!production) {
    const why = previewRefusal(settings, push.branch);
    if (why !== undefined) return { kind: 'ignore', reason: why };
  }
  const skip = await skipReason(settings, push.before, push.sha, push.changedFiles, changedFiles);
  if (skip !== undefined) return { kind: 'skip', sha: push.sha, branch: push.branch, reason: skip };
  return {
    kind: 'build',
    build: {
      sha: push.sha,
      branch: push.branch,
      target: production ? 'production' : 'preview',
      prNumber: null,
      sourceRepo: push.repo,
      headRepo: null,
      withoutEnv: false,
      message: push.message,
      author: push.author,
      // only what this push says it replaced: a replayed old push must not cancel a newer one
      supersedes: push.before === undefined ? [push.sha] : [push.before, push.sha],
      alias,
    },
  };
}

async function planPullRequest(settings: PreviewSettings, delivery: Delivery, pr: PullRequestEvent, changedFiles: ChangedFiles): Promise<Plan> {
  const alias = prAlias(pr.number);
  const noun = delivery.provider === 'gitlab' ? 'merge request' : 'pull request';
  if (pr.action === 'close') return { kind: 'remove', alias, reason: `${noun} #${pr.number} was closed`, prNumber: pr.number };
  if (pr.forkRepo !== null && !settings.forks)
    return { kind: 'ignore', reason: `${noun} #${pr.number} comes from the fork ${pr.forkRepo}; fork previews are off (set forkPreviews to build them, without the project's variables)` };
  const why = previewRefusal(settings, pr.headBranch);
  if (why !== undefined) return { kind: 'ignore', reason: why };
  // new commits on a pull request are judged like a push (else the pull request event would build what the push skipped)
  const skip = await skipReason(settings, pr.before, pr.sha, undefined, changedFiles);
  if (skip !== undefined) return { kind: 'skip', sha: pr.sha, branch: pr.headBranch, reason: skip };
  return {
    kind: 'build',
    build: {
      sha: pr.sha,
      // a fork's branch names a branch of another repository: it takes no branch alias here
      branch: pr.forkRepo === null && pr.headBranch !== '' ? pr.headBranch : null,
      target: 'preview',
      prNumber: pr.number,
      sourceRepo: pr.baseRepo,
      headRepo: pr.forkRepo,
      withoutEnv: pr.forkRepo !== null,
      message: pr.title,
      author: pr.author,
      supersedes: pr.before === undefined ? [pr.sha] : [pr.before, pr.sha],
      alias,
    },
  };
}

/** The ignored build step by paths: why these commits are not built, or undefined when they are (or nobody can tell). */
async function skipReason(settings: PreviewSettings, before: string | undefined, after: string, listed: string[] | undefined, changedFiles: ChangedFiles): Promise<string | undefined> {
  const step = settings.ignoredBuildStep;
  // a new branch or a new pull request has no "before" to compare with: it builds
  if (step === null || !('paths' in step) || before === undefined) return undefined;
  const files = await changedFiles(before, after, listed);
  if (files === undefined || files.some((f) => step.paths.some((p) => pathMatches(p, f)))) return undefined;
  return `ignored build step: the push changes none of ${step.paths.join(', ')} (${files.length} files changed)`;
}

/** Why a branch gets no preview under the project's settings, or undefined when it does. */
export function previewRefusal(settings: PreviewSettings, branch: string): string | undefined {
  if (!settings.enabled) return `previews are off for this project (previewsEnabled); branch ${branch} is not the production branch`;
  const { include, exclude } = settings.branches ?? {};
  if (exclude?.some((g) => globMatches(g, branch)) === true) return `branch ${branch} matches previewBranches.exclude`;
  if (include !== undefined && include.length > 0 && !include.some((g) => globMatches(g, branch))) return `branch ${branch} matches none of previewBranches.include`;
  return undefined;
}
