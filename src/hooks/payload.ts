import { AppError } from '../errors/index.js';
import type { Headers } from './types.js';

export const SHA = /^[0-9a-f]{40}$/;
const ZERO = /^0{40}$/;

export function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  const v = Array.isArray(value) ? value[0] : value;
  return v === undefined || v === '' ? undefined : v;
}

/** The delivery id a host sends: required where the host always sends one. */
export function deliveryId(value: string | undefined, name: string): string {
  if (value === undefined || value.length > 200) throw new AppError('BAD_REQUEST', `The ${name} header is missing or too long.`, { hint: "Send the git host's webhook deliveries unchanged." });
  return value;
}

/** A JSON object body (GitHub may send it form-encoded as `payload=<json>`). */
export function parseBody(raw: Buffer, contentType: string | undefined): Record<string, unknown> {
  let text = raw.toString('utf8');
  if (contentType?.startsWith('application/x-www-form-urlencoded') === true) text = new URLSearchParams(text).get('payload') ?? '';
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw new AppError('INVALID_JSON', 'The webhook body is not a JSON object.', { hint: 'Set the webhook content type to application/json.' });
  }
}

export function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

export function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** A full commit sha, lower-cased; `what` names it in the error. */
export function commitSha(v: unknown, what: string): string {
  if (typeof v !== 'string' || !SHA.test(v.toLowerCase()))
    throw new AppError('VALIDATION', `The payload has no valid ${what} commit sha.`, { hint: "Send the git host's webhook payloads unchanged." });
  return v.toLowerCase();
}

/** A sha that names a real commit (not the all-zero "nothing" sha), else undefined. */
export function realSha(v: unknown): string | undefined {
  return typeof v === 'string' && SHA.test(v.toLowerCase()) && !ZERO.test(v) ? v.toLowerCase() : undefined;
}

export function isZeroSha(v: unknown): boolean {
  return typeof v === 'string' && ZERO.test(v);
}

/** `refs/heads/<branch>` -> the branch; a tag or another ref -> why it is not built. */
export function branchOfRef(ref: unknown): { branch: string } | { ignored: string } {
  if (typeof ref !== 'string') throw new AppError('VALIDATION', 'The push payload has no "ref".', { hint: "Send the git host's webhook payloads unchanged." });
  if (ref.startsWith('refs/tags/')) return { ignored: `tag push (${ref.slice('refs/tags/'.length)})` };
  if (!ref.startsWith('refs/heads/') || ref.length === 'refs/heads/'.length) return { ignored: `ref ${ref} is not a branch` };
  return { branch: ref.slice('refs/heads/'.length) };
}

/**
 * The paths a push's commits added, modified or removed (GitHub, GitLab and Gitea list them
 * per commit), or undefined when a commit lacks the lists or the host cut the list short.
 */
export function changedFilesOf(commits: unknown, total?: unknown): string[] | undefined {
  if (!Array.isArray(commits)) return undefined;
  if (typeof total === 'number' && total > commits.length) return undefined;
  const files = new Set<string>();
  for (const c of commits) {
    const commit = obj(c);
    for (const key of ['added', 'modified', 'removed']) {
      const list = commit[key];
      if (!Array.isArray(list)) return undefined;
      for (const f of list) if (typeof f === 'string') files.add(f);
    }
  }
  return [...files];
}

/** The message and author of the commit with id `sha` among `commits` (else of `fallback`). */
export function commitInfo(commits: unknown, sha: string | null, fallback?: unknown): { message: string | null; author: string | null } {
  const list = Array.isArray(commits) ? commits.map(obj) : [];
  const c = list.find((x) => x.id === sha) ?? obj(fallback);
  return { message: str(c.message), author: str(obj(c.author).name) };
}
