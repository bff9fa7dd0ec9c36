/** The git hosts whose webhooks Slipway reads. */
export type Provider = 'github' | 'gitlab' | 'gitea';

/** A push to a branch, as any provider describes it. */
export interface PushEvent {
  kind: 'push';
  branch: string;
  /** the new tip; null: the branch was deleted */
  sha: string | null;
  /** the tip before the push; undefined: a new branch (or the payload does not say) */
  before: string | undefined;
  message: string | null;
  author: string | null;
  /** the repository at the host, "owner/name" */
  repo: string | null;
  /** every path the pushed commits touched; undefined when the payload does not list them all */
  changedFiles: string[] | undefined;
}

/** A pull (merge) request that got new commits, was opened or reopened ('build'), or closed or merged ('close'). */
export interface PullRequestEvent {
  kind: 'pull-request';
  action: 'build' | 'close';
  number: number;
  /** the head commit */
  sha: string;
  /** the head before new commits arrived, when the host says */
  before: string | undefined;
  headBranch: string;
  /** the repository the request targets, "owner/name" */
  baseRepo: string | null;
  /** the repository the commits come from when it is another one (a fork); null: the same */
  forkRepo: string | null;
  title: string | null;
  author: string | null;
}

export type HookEvent = PushEvent | PullRequestEvent | { kind: 'ignored'; reason: string } | { kind: 'ping' };

/** One verified delivery: who sent it, its id (for idempotency) and what it means. */
export interface Delivery {
  provider: Provider;
  id: string;
  /** the provider's event name, for the audit trail */
  name: string;
  event: HookEvent;
}

/** Request headers, lower-cased, as node gives them. */
export type Headers = Record<string, string | string[] | undefined>;
