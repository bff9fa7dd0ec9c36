import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors/index.js';
import { branchOfRef, changedFilesOf, commitInfo, commitSha, deliveryId, header, isZeroSha, obj, parseBody, realSha, str } from './payload.js';
import type { Delivery, Headers, HookEvent } from './types.js';

/**
 * A Gitea (or Forgejo) delivery: `X-Gitea-Signature` is the hex HMAC-SHA256 of the raw body
 * with the project's webhook secret; events `push`, `delete` (of a branch), `pull_request` and
 * `pull_request_sync` (what Gitea names a pull request that got new commits).
 */
export function readGiteaDelivery(headers: Headers, raw: Buffer, secret: string): Delivery {
  const signature = header(headers, 'x-gitea-signature') ?? header(headers, 'x-forgejo-signature');
  if (signature === undefined) throw new AppError('BAD_SIGNATURE', 'The X-Gitea-Signature header is missing.');
  if (!validSignature(secret, raw, signature)) throw new AppError('BAD_SIGNATURE', 'The webhook signature does not match.');
  const name = header(headers, 'x-gitea-event') ?? header(headers, 'x-forgejo-event');
  if (name === undefined) throw new AppError('BAD_REQUEST', 'The X-Gitea-Event header is missing.', { hint: 'Send Gitea webhook deliveries unchanged.' });
  const id = `gitea:${deliveryId(header(headers, 'x-gitea-delivery') ?? header(headers, 'x-forgejo-delivery'), 'X-Gitea-Delivery')}`;
  const body = parseBody(raw, header(headers, 'content-type'));
  return { provider: 'gitea', id, name, event: giteaEvent(name, body) };
}

function validSignature(secret: string, body: Buffer, signature: string): boolean {
  if (!/^[0-9a-f]{64}$/i.test(signature)) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  return timingSafeEqual(Buffer.from(signature, 'hex'), expected);
}

function giteaEvent(name: string, p: Record<string, unknown>): HookEvent {
  const repo = str(obj(p.repository).full_name);
  if (name === 'push') return giteaPush(p, repo);
  if (name === 'delete') {
    if (p.ref_type !== 'branch' || typeof p.ref !== 'string') return { kind: 'ignored', reason: `deleted ${String(p.ref_type)} is not a branch` };
    return { kind: 'push', branch: p.ref.replace(/^refs\/heads\//, ''), sha: null, before: undefined, message: null, author: null, repo, changedFiles: undefined };
  }
  if (name === 'pull_request' || name === 'pull_request_sync') return giteaPullRequest(p, repo);
  return { kind: 'ignored', reason: `event "${name}" is not handled` };
}

function giteaPush(p: Record<string, unknown>, repo: string | null): HookEvent {
  const ref = branchOfRef(p.ref);
  if ('ignored' in ref) return { kind: 'ignored', reason: ref.ignored };
  if (isZeroSha(p.after)) return { kind: 'push', branch: ref.branch, sha: null, before: realSha(p.before), message: null, author: null, repo, changedFiles: undefined };
  const sha = commitSha(p.after, '"after"');
  return { kind: 'push', branch: ref.branch, sha, before: realSha(p.before), ...commitInfo(p.commits, sha, p.head_commit), repo, changedFiles: changedFilesOf(p.commits, p.total_commits) };
}

function giteaPullRequest(p: Record<string, unknown>, repo: string | null): HookEvent {
  const action = str(p.action) ?? '';
  const build = action === 'opened' || action === 'reopened' || action === 'synchronized';
  if (!build && action !== 'closed') return { kind: 'ignored', reason: `pull_request action "${action}" changes no commit` };
  const pr = obj(p.pull_request);
  const number = typeof p.number === 'number' ? p.number : pr.number;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < 1)
    throw new AppError('VALIDATION', 'The pull_request payload has no number.', { hint: 'Send Gitea webhook payloads unchanged.' });
  const head = obj(pr.head);
  const baseRepo = str(obj(obj(pr.base).repo).full_name) ?? repo;
  const headRepo = str(obj(head.repo).full_name);
  return {
    kind: 'pull-request',
    action: build ? 'build' : 'close',
    number,
    sha: commitSha(head.sha, 'pull_request.head.sha'),
    before: undefined,
    headBranch: str(head.ref) ?? '',
    baseRepo,
    forkRepo: headRepo !== null && headRepo !== baseRepo ? headRepo : null,
    title: str(pr.title),
    author: str(obj(pr.user).login),
  };
}
