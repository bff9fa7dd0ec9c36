import { startTicker } from '../../events.js';
import { toError } from '../../errors/index.js';
import { logger } from '../../log/index.js';
import type { AwsResources } from './target.js';
import { type AwsDomainDeps, type AwsSlot, syncAwsSlot } from './aws-domain-sync.js';

const log = logger('aws-domains');

/** as the edge's domain checks: one cheap indexed read per tick; the shortest backoff step is 15 s */
const TICK_MS = 5000;
/** distributions synced per tick at most */
const BATCH = 10;
/** a certificate CloudFront still holds is tried again this long after the last try */
const DELETE_RETRY_MS = 60_000;

/**
 * Which distributions' domains to look at now: a domain whose check is due (backoff in
 * aws_domains.next_check_at), a certificate waiting to be deleted, or an issued certificate
 * whose domains waited for a distribution that a deployment has made since (read from the
 * store only, so the first deployment's domains join within a tick, without asking AWS each time).
 */
export async function dueAwsSlots(deps: AwsDomainDeps, now: number): Promise<AwsSlot[]> {
  const db = deps.store.db;
  const due = await db.selectFrom('aws_domains').select(['project_id', 'target_env']).where('next_check_at', '<=', now).orderBy('next_check_at').limit(BATCH).execute();
  const retired = await db
    .selectFrom('aws_certificates')
    .select(['project_id', 'target_env'])
    .where('role', '=', 'retired')
    .where('updated_at', '<=', now - DELETE_RETRY_MS)
    .limit(BATCH)
    .execute();
  const waiting = await db
    .selectFrom('aws_domains')
    .innerJoin('domains', 'domains.name', 'aws_domains.name')
    .innerJoin('deploy_targets', (j) => j.onRef('deploy_targets.project_id', '=', 'aws_domains.project_id').onRef('deploy_targets.environment', '=', 'aws_domains.target_env'))
    .select(['aws_domains.project_id', 'aws_domains.target_env', 'deploy_targets.resources'])
    .where('aws_domains.distribution_id', 'is', null)
    .where('domains.status', '=', 'pending-certificate')
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('aws_certificates')
          .select('aws_certificates.arn')
          .whereRef('aws_certificates.project_id', '=', 'aws_domains.project_id')
          .whereRef('aws_certificates.target_env', '=', 'aws_domains.target_env')
          .where('aws_certificates.status', '=', 'ISSUED'),
      ),
    )
    .execute();
  const ready = waiting.filter((w) => (JSON.parse(w.resources) as AwsResources).distributionId !== undefined);
  const slots = new Map<string, AwsSlot>();
  for (const r of [...due, ...retired, ...ready]) slots.set(`${r.project_id}\n${r.target_env}`, { projectId: r.project_id, targetEnv: r.target_env });
  return [...slots.values()].slice(0, BATCH);
}

/** One round: sync every due distribution, one after the other. */
export async function checkAwsDomains(deps: AwsDomainDeps, now = Date.now(), stopped: () => boolean = () => false): Promise<number> {
  const slots = await dueAwsSlots(deps, now);
  for (const slot of slots) {
    if (stopped()) break;
    await syncAwsSlot(deps, slot);
  }
  return slots.length;
}

/**
 * Recheck AWS domains in the background (the api role runs it, beside the edge's DNS checks).
 * Several api processes may: a sync is idempotent (ACM's idempotency token, CloudFront's If-Match).
 */
export function startAwsDomainChecks(deps: AwsDomainDeps): { stop(): Promise<void> } {
  const ticker = startTicker({
    everyMs: TICK_MS,
    tick: () => checkAwsDomains(deps, Date.now(), () => ticker.stopped),
    failed: (error) => log.warn({ err: toError(error) }, 'checking AWS domains failed; trying again shortly'),
  });
  return { stop: () => ticker.stop() };
}
