import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../errors/index.js';
import type { LogFn } from '../build/types.js';
import { redactUrl, runGit, type GitResult } from './git.js';

export { redactUrl } from './git.js';

const SHA = /^[0-9a-f]{40}$/i;
const LS_REMOTE_TIMEOUT_MS = 60_000;
/** asking where a branch is before a build: short, the fetch that follows has its own budget */
const TIP_TIMEOUT_MS = 30_000;
const FETCH_TIMEOUT_MS = 10 * 60_000;

export interface ResolvedRef {
  sha: string;
  /** set when the ref named a branch */
  branch?: string;
}

export interface FetchedCommit {
  sha: string;
  message: string;
  authorName: string;
  authorEmail: string;
}

export interface FetchSourceOptions {
  repoUrl: string;
  /** full 40-hex commit sha (resolve branch names with resolveRef first) */
  sha: string;
  /** empty or missing folder to check the commit out into */
  dir: string;
  log: LogFn;
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

/**
 * Turn a branch, tag or sha into a commit sha, asking the remote (`git ls-remote`).
 * A full sha passes through untouched. Branches win over tags of the same name.
 * `await resolveRef('https://github.com/acme/site.git', 'main')` -> `{ sha: '3f9a…', branch: 'main' }`
 */
export async function resolveRef(repoUrl: string, ref: string, opts: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined } = {}): Promise<ResolvedRef> {
  checkUrl(repoUrl);
  if (SHA.test(ref)) return { sha: ref.toLowerCase() };
  const name = ref.replace(/^refs\/(heads|tags)\//, '');
  if (name === '' || name.startsWith('-') || /[\s\0~^:?*[\\]/.test(name)) {
    throw new AppError('REF_NOT_FOUND', `"${ref}" is not a valid branch or tag name.`);
  }
  const wantHead = !ref.startsWith('refs/tags/');
  const wantTag = !ref.startsWith('refs/heads/');
  const patterns = [...(wantHead ? [`refs/heads/${name}`] : []), ...(wantTag ? [`refs/tags/${name}`, `refs/tags/${name}^{}`] : [])];
  const result = await runGit(['ls-remote', repoUrl, ...patterns], { timeoutMs: opts.timeoutMs ?? LS_REMOTE_TIMEOUT_MS, signal: opts.signal });
  if (result.timedOut) throw new AppError('SOURCE_UNREACHABLE', `${redactUrl(repoUrl)} did not answer within ${Math.round((opts.timeoutMs ?? LS_REMOTE_TIMEOUT_MS) / 1000)}s.`);
  if (result.code !== 0) throw unreachable(repoUrl, result);

  const refs = new Map<string, string>();
  for (const line of result.stdout.split('\n')) {
    const [sha, refName] = line.split('\t');
    if (sha !== undefined && refName !== undefined && SHA.test(sha)) refs.set(refName, sha);
  }
  const head = refs.get(`refs/heads/${name}`);
  if (wantHead && head !== undefined) return { sha: head, branch: name };
  // an annotated tag points at a tag object; the peeled entry (^{}) is the commit
  const tag = refs.get(`refs/tags/${name}^{}`) ?? refs.get(`refs/tags/${name}`);
  if (tag !== undefined) return { sha: tag };
  throw new AppError('REF_NOT_FOUND', `No branch or tag "${ref}" in ${redactUrl(repoUrl)}.`);
}

/**
 * The commit a branch points at now, asked of the git host (`git ls-remote <url> refs/heads/<branch>`),
 * or null when the branch does not exist (any more). A webhook's payload says what was pushed
 * once; this says whether it is still the tip, which a replayed delivery cannot fake.
 * `await branchTip('https://github.com/acme/site.git', 'main')` -> `'3f9a…'`
 */
export async function branchTip(repoUrl: string, branch: string, opts: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined } = {}): Promise<string | null> {
  checkUrl(repoUrl);
  if (branch === '' || branch.startsWith('-') || /[\s\0~^:?*[\\]/.test(branch)) throw new AppError('REF_NOT_FOUND', `"${branch}" is not a valid branch name.`);
  return refTip(repoUrl, `refs/heads/${branch}`, opts);
}

/**
 * The commit a full ref name points at now (`refs/pull/12/head`), or null when there is no such
 * ref; like branchTip, for the refs a git host keeps for a pull request's head.
 */
export async function refTip(repoUrl: string, ref: string, opts: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined } = {}): Promise<string | null> {
  checkUrl(repoUrl);
  if (!ref.startsWith('refs/') || ref.includes('..') || /[\s\0~^:?*[\\]/.test(ref)) throw new AppError('REF_NOT_FOUND', `"${ref}" is not a valid ref name.`);
  const timeoutMs = opts.timeoutMs ?? TIP_TIMEOUT_MS;
  const result = await runGit(['ls-remote', repoUrl, ref], { timeoutMs, signal: opts.signal });
  if (result.timedOut) throw new AppError('SOURCE_UNREACHABLE', `${redactUrl(repoUrl)} did not say where ${ref} is within ${Math.round(timeoutMs / 1000)}s.`);
  if (result.code !== 0) throw unreachable(repoUrl, result);
  // ls-remote matches patterns against the ends of ref names: take the exact ref only
  for (const line of result.stdout.split('\n')) {
    const [sha, name] = line.split('\t');
    if (name === ref && sha !== undefined && SHA.test(sha)) return sha.toLowerCase();
  }
  return null;
}

/**
 * Check out exactly one commit into `dir`: a shallow fetch of that sha, or a full fetch when
 * the server does not serve commits by sha. Verifies HEAD is the sha asked for.
 * `await fetchSource({ repoUrl, sha, dir: '/data/builds/42/src', log })`
 */
export async function fetchSource(opts: FetchSourceOptions): Promise<FetchedCommit> {
  const { repoUrl, dir, log, signal } = opts;
  checkUrl(repoUrl);
  if (!SHA.test(opts.sha)) throw new AppError('REF_NOT_FOUND', `"${opts.sha}" is not a full commit sha; resolve it first.`);
  const sha = opts.sha.toLowerCase();
  const deadline = Date.now() + (opts.timeoutMs ?? FETCH_TIMEOUT_MS);
  const git = async (args: string[]): Promise<GitResult> => {
    const left = deadline - Date.now();
    const result = await runGit(args, { cwd: dir, timeoutMs: Math.max(left, 1), signal });
    if (result.timedOut) throw new AppError('SOURCE_UNREACHABLE', `Fetching ${redactUrl(repoUrl)} took longer than ${Math.round((opts.timeoutMs ?? FETCH_TIMEOUT_MS) / 1000)}s.`);
    return result;
  };
  const must = async (args: string[]): Promise<string> => {
    const result = await git(args);
    if (result.code !== 0) throw new Error(`git ${args[0]} failed (exit ${result.code}): ${result.stderr.trim()}`);
    return result.stdout;
  };

  const started = Date.now();
  log(`Fetching ${sha.slice(0, 12)} from ${redactUrl(repoUrl)}`);
  await mkdir(dir, { recursive: true });
  await must(['init', '--quiet']);
  // config, not `remote add`: a retried job may reuse a folder where origin already exists
  await must(['config', 'remote.origin.url', repoUrl]);

  const shallow = await git(['fetch', '--quiet', '--no-tags', '--depth', '1', 'origin', sha]);
  if (shallow.code !== 0) {
    log(`Shallow fetch by sha refused (${firstLine(shallow.stderr)}); fetching full history instead`);
    const full = await git(['fetch', '--quiet', '--no-tags', 'origin', '+refs/heads/*:refs/remotes/origin/*']);
    if (full.code !== 0) throw unreachable(repoUrl, full);
    const has = await git(['cat-file', '-e', `${sha}^{commit}`]);
    if (has.code !== 0) throw new AppError('REF_NOT_FOUND', `Commit ${sha} is not in ${redactUrl(repoUrl)} (was it force-pushed away?).`);
  }
  await must(['-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', sha]);

  const head = (await must(['rev-parse', 'HEAD'])).trim();
  if (head !== sha) throw new Error(`checked out ${head} but ${sha} was asked for`);
  const info = await must(['log', '-1', '--format=%an%x00%ae%x00%B']);
  const [authorName = '', authorEmail = '', message = ''] = info.split('\0');
  log(`Checked out ${sha.slice(0, 12)} "${firstLine(message)}" in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return { sha, message: message.trim(), authorName, authorEmail };
}

/**
 * The paths that differ between two commits (`git diff --name-only before after`), fetched
 * into a throwaway bare repository; undefined
 * when the repository cannot say in time (a webhook must answer within seconds).
 * `await changedPaths(url, 'a1b2…', 'c3d4…')` -> `['apps/web/index.html']`
 */
export async function changedPaths(repoUrl: string, before: string, after: string, opts: { timeoutMs?: number } = {}): Promise<string[] | undefined> {
  checkUrl(repoUrl);
  if (!SHA.test(before) || !SHA.test(after)) return undefined;
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  const dir = await mkdtemp(join(tmpdir(), 'slipway-diff-'));
  const git = (args: string[]) => runGit(args, { cwd: dir, timeoutMs: Math.max(deadline - Date.now(), 1) });
  try {
    if ((await git(['init', '--quiet', '--bare'])).code !== 0) return undefined;
    if ((await git(['fetch', '--quiet', '--no-tags', repoUrl, before, after])).code !== 0) return undefined;
    const diff = await git(['diff', '--name-only', '--no-renames', before, after]);
    if (diff.code !== 0 || diff.timedOut) return undefined;
    return diff.stdout.split('\n').filter((line) => line !== '');
  } catch {
    return undefined;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function checkUrl(repoUrl: string): void {
  // an argument starting with "-" would be read by git as an option
  if (repoUrl.trim() === '' || repoUrl.startsWith('-')) throw new AppError('SOURCE_UNREACHABLE', `"${repoUrl}" is not a repository URL.`);
}

function unreachable(repoUrl: string, result: GitResult): AppError {
  const detail = redactUrl(result.stderr.trim()) || `git exited with code ${result.code}`;
  return new AppError('SOURCE_UNREACHABLE', `Could not read ${redactUrl(repoUrl)}: ${detail}`);
}

function firstLine(text: string): string {
  return (text.trim().split('\n')[0] ?? '').slice(0, 200);
}
