import { commentBody, commentMarker } from './comment.js';
import { GitHostError, hostRequest } from './http.js';
import { commitState, describe, environmentUrl, logUrl, statusContext, type Step } from './plan.js';
import type { HostTarget, ReportContext } from './target.js';

const GITLAB_STATE = { pending: 'pending', success: 'success', failure: 'failed', error: 'canceled' } as const;

/**
 * The GitLab side: a commit status on the built sha (its "running" while building) and one note
 * on the merge request. GitLab's own deployments belong to its CI, so there is no Deployment.
 */
export class GitLabTarget implements HostTarget {
  readonly limitKey: string;

  constructor(
    private readonly url: string,
    private readonly token: string,
  ) {
    this.limitKey = `gitlab ${url} ${token.slice(-8)}`;
  }

  async sendStep(ctx: ReportContext, step: Step): Promise<void> {
    // a step's whole story is the commit status; only the last one is sent (see commitStatus)
    void ctx;
    void step;
  }

  async commitStatus(ctx: ReportContext, step: Step): Promise<void> {
    const state = step === 'in_progress' ? 'running' : GITLAB_STATE[commitState(step)];
    await this.call('POST', `/projects/${encodeURIComponent(ctx.repo)}/statuses/${ctx.d.commit_sha}`, {
      state,
      name: statusContext(ctx.projectName, ctx.d),
      target_url: step === 'success' ? environmentUrl(ctx.config, ctx.projectName, ctx.d) : logUrl(ctx.config, ctx.projectName, ctx.d),
      description: describe(step, ctx.d),
    });
  }

  async upsertComment(ctx: ReportContext, step: Step, knownId: number | null): Promise<number> {
    const iid = ctx.d.pr_number;
    if (iid === null) throw new Error('only a merge request deployment has a note');
    const base = `/projects/${encodeURIComponent(ctx.repo)}/merge_requests/${iid}/notes`;
    const body = commentBody(ctx.config, ctx.projectName, ctx.d, step);
    const id = knownId ?? (await this.findNote(base, commentMarker(ctx.projectName)));
    if (id !== null) {
      try {
        await this.call('PUT', `${base}/${id}`, { body });
        return id;
      } catch (err) {
        if (!(err instanceof GitHostError && err.status === 404)) throw err;
      }
    }
    const made = await this.call<{ id?: unknown }>('POST', base, { body });
    if (typeof made?.id !== 'number') throw new GitHostError('GitLab answered the new note without an id');
    return made.id;
  }

  private async findNote(base: string, marker: string): Promise<number | null> {
    for (let page = 1; page <= 10; page++) {
      const notes = (await this.call<Array<{ id?: unknown; body?: unknown }>>('GET', `${base}?per_page=100&page=${page}`)) ?? [];
      const ours = notes.find((n) => typeof n.body === 'string' && n.body.includes(marker));
      if (ours !== undefined && typeof ours.id === 'number') return ours.id;
      if (notes.length < 100) return null;
    }
    return null;
  }

  private call<T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<T> {
    return hostRequest<T>({ method, url: `${this.url}/api/v4${path}`, headers: { 'private-token': this.token, 'user-agent': 'slipway' }, body });
  }
}
