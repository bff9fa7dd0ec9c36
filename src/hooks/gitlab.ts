import { createHash, timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors/index.js';
import { branchOfRef, changedFilesOf, commitInfo, commitSha, header, isZeroSha, obj, parseBody, realSha, str } from './payload.js';
import type { Delivery, Headers, HookEvent } from './types.js';

/**
 * A GitLab delivery: `X-Gitlab-Token` must equal the project's webhook secret (compared in
 * constant time); events "Push Hook" and "Merge Request Hook". GitLab's `X-Gitlab-Event-UUID`
 * is the delivery id; without it, a hash of the body (the same body is the same delivery).
 */
export function readGitlabDelivery(headers: Headers, raw: Buffer, secret: string): Delivery {
  const token = header(headers, 'x-gitlab-token');
  if (token === undefined) throw new AppError('BAD_SIGNATURE', 'The X-Gitlab-Token header is missing.');
  if (!sameSecret(token, secret)) throw new AppError('BAD_SIGNATURE', 'The X-Gitlab-Token does not match the webhook secret.');
  const name = header(headers, 'x-gitlab-event');
  if (name === undefined) throw new AppError('BAD_REQUEST', 'The X-Gitlab-Event header is missing.', { hint: 'Send GitLab webhook deliveries unchanged.' });
  const uuid = header(headers, 'x-gitlab-event-uuid');
  const id = uuid !== undefined && uuid.length <= 200 ? `gitlab:${uuid}` : `gitlab-body:${createHash('sha256').update(raw).digest('hex')}`;
  const body = parseBody(raw, header(headers, 'content-type'));
  return { provider: 'gitlab', id, name, event: gitlabEvent(name, body) };
}

/** Equal-length digests, so neither the content nor the length of the secret leaks through timing. */
function sameSecret(given: string, secret: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(secret).digest();
  return timingSafeEqual(a, b);
}

function gitlabEvent(name: string, p: Record<string, unknown>): HookEvent {
  if (name === 'Push Hook') return gitlabPush(p);
  if (name === 'Merge Request Hook') return gitlabMergeRequest(p);
  return { kind: 'ignored', reason: `event "${name}" is not handled` };
}

function gitlabPush(p: Record<string, unknown>): HookEvent {
  const ref = branchOfRef(p.ref);
  if ('ignored' in ref) return { kind: 'ignored', reason: ref.ignored };
  const repo = str(obj(p.project).path_with_namespace);
  if (isZeroSha(p.after)) return { kind: 'push', branch: ref.branch, sha: null, before: realSha(p.before), message: null, author: null, repo, changedFiles: undefined };
  const sha = commitSha(p.checkout_sha ?? p.after, '"after"');
  // GitLab lists at most 20 commits; total_commits_count says how many there were
  return { kind: 'push', branch: ref.branch, sha, before: realSha(p.before), ...commitInfo(p.commits, sha), repo, changedFiles: changedFilesOf(p.commits, p.total_commits_count) };
}

function gitlabMergeRequest(p: Record<string, unknown>): HookEvent {
  const mr = obj(p.object_attributes);
  const action = str(mr.action) ?? '';
  const close = action === 'close' || action === 'merge';
  // "update" also means a new title or label: only one with `oldrev` brought new commits
  const build = action === 'open' || action === 'reopen' || (action === 'update' && realSha(mr.oldrev) !== undefined);
  if (!close && !build) return { kind: 'ignored', reason: `merge request action "${action}" changes no commit` };
  const number = mr.iid;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < 1)
    throw new AppError('VALIDATION', 'The merge request payload has no iid.', { hint: 'Send GitLab webhook payloads unchanged.' });
  const last = obj(mr.last_commit);
  const baseRepo = str(obj(mr.target).path_with_namespace) ?? str(obj(p.project).path_with_namespace);
  const sourceRepo = str(obj(mr.source).path_with_namespace);
  const fork = mr.source_project_id !== undefined && mr.source_project_id !== mr.target_project_id;
  return {
    kind: 'pull-request',
    action: close ? 'close' : 'build',
    number,
    sha: commitSha(last.id, 'object_attributes.last_commit.id'),
    before: realSha(mr.oldrev),
    headBranch: str(mr.source_branch) ?? '',
    baseRepo,
    forkRepo: fork ? (sourceRepo ?? `project ${String(mr.source_project_id)}`) : null,
    title: str(mr.title),
    author: str(obj(p.user).username),
  };
}
