import { commentBody, commentMarker } from './comment.js';
import { GITHUB_HEADERS, type GitHubAppTokens } from './github-app.js';
import { GitHostError, hostRequest } from './http.js';
import { commitState, describe, environmentUrl, githubEnvironment, githubState, logUrl, statusContext, type Step } from './plan.js';
import type { HostTarget, ReportContext } from './target.js';

/** How Slipway proves who it is to GitHub: a token, or a GitHub App's installation tokens. */
export type GitHubAuth = { kind: 'token'; token: string } | { kind: 'app'; appId: string; tokens: GitHubAppTokens };

/** Comments looked through, at most, to find Slipway's again (100 per page). */
const MAX_COMMENT_PAGES = 10;

/**
 * The GitHub side of the conversation: a Deployment per Slipway deployment with its statuses,
 * a commit status on the built sha, and one comment per pull request.
 */
export class GitHubTarget implements HostTarget {
  readonly limitKey: string;

  constructor(
    private readonly apiUrl: string,
    private readonly auth: GitHubAuth,
  ) {
    this.limitKey = `github ${apiUrl} ${auth.kind === 'token' ? auth.token.slice(-8) : `app ${auth.appId}`}`;
  }

  async sendStep(ctx: ReportContext, step: Step): Promise<void> {
    const id = ctx.remoteId ?? (await this.createDeployment(ctx));
    const environmentUrl_ = environmentUrl(ctx.config, ctx.projectName, ctx.d);
    await this.call(ctx.repo, 'POST', `/repos/${ctx.repo}/deployments/${id}/statuses`, {
      state: githubState(step),
      description: describe(step, ctx.d),
      log_url: logUrl(ctx.config, ctx.projectName, ctx.d),
      // GitHub links the environment URL: only once there is something there
      ...(step === 'success' ? { environment_url: environmentUrl_ } : {}),
      // a newer deployment of the environment makes this one inactive explicitly (see plan.ts)
      auto_inactive: false,
    });
  }

  async commitStatus(ctx: ReportContext, step: Step): Promise<void> {
    await this.call(ctx.repo, 'POST', `/repos/${ctx.repo}/statuses/${ctx.d.commit_sha}`, {
      state: commitState(step),
      target_url: step === 'success' ? environmentUrl(ctx.config, ctx.projectName, ctx.d) : logUrl(ctx.config, ctx.projectName, ctx.d),
      description: describe(step, ctx.d),
      context: statusContext(ctx.projectName, ctx.d),
    });
  }

  async upsertComment(ctx: ReportContext, step: Step, knownId: number | null): Promise<number> {
    const pr = ctx.d.pr_number;
    if (pr === null) throw new Error('only a pull request deployment has a comment');
    const body = commentBody(ctx.config, ctx.projectName, ctx.d, step);
    const id = knownId ?? (await this.findComment(ctx.repo, pr, commentMarker(ctx.projectName)));
    if (id !== null) {
      try {
        await this.call(ctx.repo, 'PATCH', `/repos/${ctx.repo}/issues/comments/${id}`, { body });
        return id;
      } catch (err) {
        // someone deleted it: make it again below
        if (!(err instanceof GitHostError && err.status === 404)) throw err;
      }
    }
    const made = await this.call<{ id?: unknown }>(ctx.repo, 'POST', `/repos/${ctx.repo}/issues/${pr}/comments`, { body });
    if (typeof made?.id !== 'number') throw new GitHostError('GitHub answered the new comment without an id');
    return made.id;
  }

  private async createDeployment(ctx: ReportContext): Promise<number> {
    const production = ctx.d.environment === 'production';
    const made = await this.call<{ id?: unknown }>(ctx.repo, 'POST', `/repos/${ctx.repo}/deployments`, {
      ref: ctx.d.commit_sha,
      environment: githubEnvironment(ctx.projectName, ctx.d),
      description: `Slipway deployment ${ctx.d.id}`,
      // Slipway deploys what was pushed: no merge of the default branch, no wait for other checks
      auto_merge: false,
      required_contexts: [],
      payload: { slipway: { deploymentId: ctx.d.id, project: ctx.projectName } },
      production_environment: production,
      transient_environment: !production,
    });
    if (typeof made?.id !== 'number') throw new GitHostError('GitHub answered the new deployment without an id');
    await ctx.saveRemoteId(made.id);
    return made.id;
  }

  private async findComment(repo: string, pr: number, marker: string): Promise<number | null> {
    for (let page = 1; page <= MAX_COMMENT_PAGES; page++) {
      const comments = await this.call<Array<{ id?: unknown; body?: unknown }>>(repo, 'GET', `/repos/${repo}/issues/${pr}/comments?per_page=100&page=${page}`);
      const ours = (comments ?? []).find((c) => typeof c.body === 'string' && c.body.includes(marker));
      if (ours !== undefined && typeof ours.id === 'number') return ours.id;
      if ((comments ?? []).length < 100) return null;
    }
    return null;
  }

  private async call<T>(repo: string, method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown): Promise<T> {
    const authorization = this.auth.kind === 'token' ? `Bearer ${this.auth.token}` : `Bearer ${await this.auth.tokens.token(repo)}`;
    return hostRequest<T>({ method, url: `${this.apiUrl}${path}`, headers: { ...GITHUB_HEADERS, authorization }, body });
  }
}
