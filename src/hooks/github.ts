import { AppError } from '../errors/index.js';
import { verifyGithubSignature } from '../secrets.js';
import { branchOfRef, changedFilesOf, commitInfo, commitSha, deliveryId, header, isZeroSha, obj, parseBody, realSha, str } from './payload.js';
import type { Delivery, Headers, HookEvent } from './types.js';

/**
 * A GitHub delivery: `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with the project's
 * webhook secret) is checked before anything is parsed; events `ping`, `push` and `pull_request`.
 */
export function readGithubDelivery(headers: Headers, raw: Buffer, secret: string): Delivery {
  const signature = header(headers, 'x-hub-signature-256');
  if (signature === undefined) throw new AppError('BAD_SIGNATURE', 'The X-Hub-Signature-256 header is missing.');
  if (!verifyGithubSignature(secret, raw, signature)) throw new AppError('BAD_SIGNATURE', 'The webhook signature does not match.');
  const name = header(headers, 'x-github-event');
  if (name === undefined) throw new AppError('BAD_REQUEST', 'The X-GitHub-Event header is missing.', { hint: 'Send GitHub webhook deliveries unchanged.' });
  const id = deliveryId(header(headers, 'x-github-delivery'), 'X-GitHub-Delivery');
  const body = parseBody(raw, header(headers, 'content-type'));
  return { provider: 'github', id, name, event: githubEvent(name, body) };
}

function githubEvent(name: string, p: Record<string, unknown>): HookEvent {
  if (name === 'ping') return { kind: 'ping' };
  if (name === 'push') return githubPush(p);
  if (name === 'pull_request') return githubPullRequest(p);
  return { kind: 'ignored', reason: `event "${name}" is not handled` };
}

function githubPush(p: Record<string, unknown>): HookEvent {
  const ref = branchOfRef(p.ref);
  if ('ignored' in ref) return { kind: 'ignored', reason: ref.ignored };
  const repo = str(obj(p.repository).full_name);
  if (p.deleted === true || isZeroSha(p.after)) {
    return { kind: 'push', branch: ref.branch, sha: null, before: realSha(p.before), message: null, author: null, repo, changedFiles: undefined };
  }
  const sha = commitSha(p.after, '"after"');
  const head = commitInfo(p.commits, sha, p.head_commit);
  return { kind: 'push', branch: ref.branch, sha, before: realSha(p.before), ...head, repo, changedFiles: changedFilesOf(p.commits) };
}

const BUILD_ACTIONS = new Set(['opened', 'reopened', 'synchronize']);

function githubPullRequest(p: Record<string, unknown>): HookEvent {
  const action = str(p.action) ?? '';
  if (!BUILD_ACTIONS.has(action) && action !== 'closed') return { kind: 'ignored', reason: `pull_request action "${action}" changes no commit` };
  const pr = obj(p.pull_request);
  const number = typeof p.number === 'number' ? p.number : pr.number;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < 1)
    throw new AppError('VALIDATION', 'The pull_request payload has no number.', { hint: 'Send GitHub webhook payloads unchanged.' });
  const head = obj(pr.head);
  const baseRepo = str(obj(obj(pr.base).repo).full_name) ?? str(obj(p.repository).full_name);
  // a deleted fork leaves head.repo null: nothing to build from, and only a fork can be deleted under a pull request
  if (head.repo === null && action !== 'closed') return { kind: 'ignored', reason: `pull request #${number} comes from a fork that was deleted` };
  const headRepo = head.repo === null ? null : str(obj(head.repo).full_name);
  return {
    kind: 'pull-request',
    action: action === 'closed' ? 'close' : 'build',
    number,
    sha: commitSha(head.sha, 'pull_request.head.sha'),
    before: realSha(p.before),
    headBranch: str(head.ref) ?? '',
    baseRepo,
    forkRepo: headRepo !== null && headRepo !== baseRepo ? headRepo : null,
    title: str(pr.title),
    author: str(obj(pr.user).login),
  };
}
