import { recordDomainEvent } from '../notify/index.js';
import { bumpCounter, type Db, type Domain, type DomainStatus } from '../store/index.js';

/**
 * The certificate side of a domain's lifecycle, read and written straight on the domains
 * table: the domains API moves a domain to 'pending-certificate' once its DNS is right; from
 * there this module sets 'active' or 'error' (status_detail: the CA's words). Its retry
 * schedule lives in certificate_attempts, apart from the DNS check's next_check_at and
 * check_failures. Every status change bumps alias_generation.
 */
export type DueDomain = Domain & { failures: number };

export async function domainsDue(db: Db, now: number): Promise<DueDomain[]> {
  const rows = await db
    .selectFrom('domains')
    .leftJoin('certificate_attempts', 'certificate_attempts.domain', 'domains.name')
    .selectAll('domains')
    .select('certificate_attempts.failures')
    .where('domains.status', 'in', ['pending-certificate', 'error'])
    // a domain CloudFront serves has its certificate from ACM (src/targets/aws/aws-domains.ts)
    .where('domains.name', 'not in', db.selectFrom('aws_domains').select('aws_domains.name'))
    .where((eb) => eb.or([eb('certificate_attempts.next_at', 'is', null), eb('certificate_attempts.next_at', '<=', now)]))
    .orderBy('domains.created_at', 'asc')
    .execute();
  return rows.map((r) => ({ ...r, failures: r.failures ?? 0 }));
}

export async function domainNames(db: Db): Promise<Set<string>> {
  const rows = await db.selectFrom('domains').select('name').execute();
  return new Set(rows.map((r) => r.name));
}

export async function attemptOf(db: Db, name: string): Promise<{ next_at: number | null; failures: number } | undefined> {
  return db.selectFrom('certificate_attempts').select(['next_at', 'failures']).where('domain', '=', name).executeTakeFirst();
}

export async function markActive(db: Db, name: string): Promise<void> {
  await db.deleteFrom('certificate_attempts').where('domain', '=', name).execute();
  await setStatus(db, name, 'active', null);
}

/** The order failed: 'error' with the CA's words, tried again at `retryAt`. */
export async function markFailed(db: Db, name: string, detail: string, retryAt: number, failures: number): Promise<void> {
  await schedule(db, name, retryAt, failures);
  await setStatus(db, name, 'error', detail);
}

/** Not now (a rate limit): the status stays, the detail says why and until when. */
export async function postpone(db: Db, name: string, detail: string, until: number): Promise<void> {
  await schedule(db, name, until, undefined);
  await db.updateTable('domains').set({ status_detail: detail, updated_at: Date.now() }).where('name', '=', name).execute();
}

/** A note on an active domain (a failed renewal) without changing its status. */
export async function noteOnActive(db: Db, name: string, detail: string | null): Promise<void> {
  await db.updateTable('domains').set({ status_detail: detail, updated_at: Date.now() }).where('name', '=', name).where('status', '=', 'active').execute();
}

async function schedule(db: Db, name: string, nextAt: number, failures: number | undefined): Promise<void> {
  const exists = await db.selectFrom('domains').select('name').where('name', '=', name).executeTakeFirst();
  if (exists === undefined) return; // removed meanwhile
  await db
    .insertInto('certificate_attempts')
    .values({ domain: name, next_at: nextAt, failures: failures ?? 0 })
    .onConflict((oc) => oc.column('domain').doUpdateSet(failures === undefined ? { next_at: nextAt } : { next_at: nextAt, failures }))
    .execute();
}

async function setStatus(db: Db, name: string, status: DomainStatus, detail: string | null): Promise<void> {
  const result = await db.updateTable('domains').set({ status, status_detail: detail, updated_at: Date.now() }).where('name', '=', name).executeTakeFirst();
  if (Number(result.numUpdatedRows) > 0) await bumpCounter(db, 'alias_generation');
  // right after the change (the certificate manager writes without a transaction here)
  if (Number(result.numUpdatedRows) > 0 && (status === 'active' || status === 'error')) await recordDomainEvent(db, status === 'active' ? 'certificate.issued' : 'certificate.failing', name);
}
