import type { Config } from '../config/index.js';
import { toError } from '../errors/index.js';
import { type Events, startLookLoop } from '../events.js';
import type { SecretBox } from '../secrets.js';
import { databaseNow, type Store } from '../store/index.js';
import { Credentials, githubRepoOf } from './credentials.js';
import { GitHostError } from './http.js';
import { plannedSteps, type Step } from './plan.js';
import { aliasedAmong, type Candidate, claimReport, commentId, loadCandidates, markFailed, markSent, newerOfPr, postpone, saveCommentId, saveRemoteId, saveSent } from './reports.js';
import type { HostTarget } from './target.js';
import { logger } from '../log/index.js';

const reporterLog = logger('githost');

export interface ReporterOptions {
  store: Store;
  config: Config;
  box: SecretBox;
  events: Events;
  /** how often the store is looked at when no event woke the reporter (default 250 ms) */
  pollMs?: number;
  /** retry schedule of a failing report: base doubles per attempt up to cap; give up after giveUpMs */
  backoff?: { baseMs: number; capMs: number; giveUpMs: number };
}

export interface GitHostReporter {
  /** stop looking; waits for the reports being sent */
  stop(): Promise<void>;
}

const DEFAULT_BACKOFF = { baseMs: 2000, capMs: 5 * 60_000, giveUpMs: 86_400_000 };
/** deployments reported at once (each is a few sequential requests) */
const PARALLEL = 8;
const LEASE_MS = 60_000;

/**
 * Keep the git host in step with every deployment that came from it: each look compares what
 * each recent deployment is with what was sent (git_host_reports) and sends the difference, so
 * nothing is lost when the host is down or the process restarts, and the build code never waits
 * for, or fails because of, the git host.
 */
export function startGitHostReporter(opts: ReporterOptions): GitHostReporter {
  const { store, config } = opts;
  const pollMs = opts.pollMs ?? 250;
  const backoff = opts.backoff ?? DEFAULT_BACKOFF;
  const credentials = new Credentials(store.db, opts.box, config.gitHost);
  // a rate limit holds for every request made with the same credentials
  const blockedUntil = new Map<string, number>();
  const inFlight = new Set<string>();

  async function look(): Promise<void> {
    const now = Date.now();
    await credentials.refresh();
    const candidates = await loadCandidates(store.db, now);
    const aliased = await aliasedAmong(
      store.db,
      candidates.filter((c) => c.status === 'ready').map((c) => c.id),
    );
    for (const c of candidates) {
      if (inFlight.size >= PARALLEL) return;
      if (inFlight.has(c.id) || c.state === 'failed' || (c.next_at !== null && c.next_at > now)) continue;
      const steps = plannedSteps(c, aliased.has(c.id));
      if (c.state === 'sent' && c.sent === steps.join(',')) continue;
      const where = source(c);
      if (where === undefined || (blockedUntil.get(where.target.limitKey) ?? 0) > now) continue;
      // not awaited: a slow git host delays only its own reports, never the next look
      inFlight.add(c.id);
      const done = report(c, steps, where.target, where.provider, where.repo)
        .catch((err: unknown) => {
          reporterLog.error({ err, deploymentId: c.id }, 'reporting failed');
          return false;
        })
        .then((worked) => {
          inFlight.delete(c.id);
          // the deployment may have moved on meanwhile; a report that could not start waits for the poll
          if (worked) loop.kick();
        });
      loop.track(done);
    }
  }

  /** Where a deployment is reported: its webhook's repository, or for a deployment by hand the project's GitHub repository. */
  function source(c: Candidate): { target: HostTarget; provider: 'github' | 'gitlab'; repo: string } | undefined {
    if ((c.source_provider === 'github' || c.source_provider === 'gitlab') && c.source_repo !== null) {
      const target = credentials.target(c.team_id, c.source_provider);
      return target === undefined ? undefined : { target, provider: c.source_provider, repo: c.source_repo };
    }
    if (c.source_provider !== null) return undefined;
    const repo = githubRepoOf(c.repo_url, config.gitHost.githubApiUrl);
    const target = repo === undefined ? undefined : credentials.target(c.team_id, 'github');
    return target === undefined || repo === undefined ? undefined : { target, provider: 'github', repo };
  }

  /** Send what the git host has not heard yet; false: another process has the deployment. */
  async function report(candidate: Candidate, steps: Step[], target: HostTarget, provider: 'github' | 'gitlab', repo: string): Promise<boolean> {
    const db = store.db;
    let c = candidate;
    // the lease is by the database's clock (PostgreSQL's on several machines), so clock skew cannot give two reporters one deployment
    const claimed = await claimReport(db, { id: c.id, provider, repo }, await databaseNow(store), LEASE_MS);
    if (claimed === undefined) return false;
    // what was sent is read again under the claim: another process may have reported since the look
    c = { ...c, sent: claimed.sent, state: claimed.state, remote_id: claimed.remote_id, attempts: claimed.attempts, first_failed_at: claimed.first_failed_at };
    const sent = c.sent === null || c.sent === '' ? [] : c.sent.split(',');
    if (c.state === 'sent' && c.sent === steps.join(',')) {
      await markSent(db, c.id);
      return true;
    }
    let common = 0;
    while (common < sent.length && common < steps.length && sent[common] === steps[common]) common++;
    const toSend = steps.slice(common);
    let remoteId = c.remote_id;
    const ctx = {
      config,
      projectName: c.project_name,
      d: c,
      repo,
      get remoteId() {
        return remoteId;
      },
      saveRemoteId: async (id: number) => {
        remoteId = id;
        await saveRemoteId(db, c.id, id);
      },
    };
    try {
      const done = steps.slice(0, common);
      for (const step of toSend) {
        await target.sendStep(ctx, step);
        done.push(step);
        await saveSent(db, c.id, done);
      }
      // the commit status follows the newest step that is not "replaced": a replaced deployment
      // leaves its commit's status alone. The comment belongs to the pull request's newest
      // deployment; when that one turns inactive, its pull request was closed.
      const last = steps.filter((s) => s !== 'inactive').at(-1)!;
      const onlyInactive = toSend.length > 0 && toSend.every((s) => s === 'inactive');
      if (!onlyInactive || c.state !== 'sent') await target.commitStatus(ctx, last);
      if (c.pr_number !== null && !(await newerOfPr(db, c))) {
        const known = await commentId(db, c.project_id, repo, c.pr_number);
        const id = await target.upsertComment(ctx, steps.at(-1)!, known);
        if (id !== known) await saveCommentId(db, c.project_id, repo, c.pr_number, id);
      }
      await markSent(db, c.id);
      return true;
    } catch (raw) {
      const err = toError(raw);
      const now = Date.now();
      if (err instanceof GitHostError && err.retryAt !== undefined) {
        blockedUntil.set(target.limitKey, err.retryAt);
        reporterLog.warn(`${provider} rate limit while reporting ${c.id}; waiting until ${new Date(err.retryAt).toISOString()}`);
        await postpone(db, c.id, err.retryAt, `rate limited until ${new Date(err.retryAt).toISOString()}: ${err.message}`);
        return false;
      }
      const attempts = (c.attempts ?? 0) + 1;
      const firstFailedAt = c.first_failed_at ?? now;
      const giveUp = now - Number(firstFailedAt) >= backoff.giveUpMs;
      const nextAt = giveUp ? null : now + Math.min(backoff.capMs, backoff.baseMs * 2 ** (attempts - 1));
      reporterLog.warn(`reporting ${c.id} to ${provider} ${repo} failed (attempt ${attempts}${giveUp ? ', giving up' : ''}): ${err.message}`);
      await markFailed(db, c.id, { attempts, error: err.message, firstFailedAt: Number(firstFailedAt), nextAt });
      return false;
    }
  }

  // a new deployment or a status change is reported at once rather than at the next poll
  const loop = startLookLoop({ events: opts.events, pollMs, look, failed: (err) => reporterLog.error({ err }, 'looking for deployments to report failed') });
  return { stop: () => loop.stop() };
}
