import { bumpCounter, type Db, type Domain, type DomainStatus } from '../store/index.js';

/**
 * The certificate side of a domain's lifecycle, read and written straight on the domains
 * table: the domains API moves a domain to 'pending-certificate' once its DNS is right; from
 * there this module sets 'active' or 'error' (status_detail: the CA's words) and keeps its own
 * retry schedule in certificate_next_at / certificate_failures (the DNS check owns
 * next_check_at / check_failures). Every status change bumps alias_generation.
 */
export async function domainsDue(db: Db, now: number): Promise<Domain[]> {
  return db
    .selectFrom('domains')
    .selectAll()
    .where('status', 'in', ['pending-certificate', 'error'])
    .where((eb) => eb.or([eb('certificate_next_at', 'is', null), eb('certificate_next_at', '<=', now)]))
    .orderBy('created_at', 'asc')
    .execute();
}

export async function domainNames(db: Db): Promise<Set<string>> {
  const rows = await db.selectFrom('domains').select('name').execute();
  return new Set(rows.map((r) => r.name));
}

export async function markActive(db: Db, name: string): Promise<void> {
  await setStatus(db, name, 'active', null, { certificate_next_at: null, certificate_failures: 0 });
}

/** The order failed: 'error' with the CA's words, tried again at `retryAt`. */
export async function markFailed(db: Db, name: string, detail: string, retryAt: number, failures: number): Promise<void> {
  await setStatus(db, name, 'error', detail, { certificate_next_at: retryAt, certificate_failures: failures });
}

/** Not now (a rate limit): the status stays, the detail says why and until when. */
export async function postpone(db: Db, name: string, detail: string, until: number): Promise<void> {
  await db.updateTable('domains').set({ status_detail: detail, certificate_next_at: until, updated_at: Date.now() }).where('name', '=', name).execute();
}

/** A note on an active domain (a failed renewal) without changing its status. */
export async function noteOnActive(db: Db, name: string, detail: string | null): Promise<void> {
  await db.updateTable('domains').set({ status_detail: detail, updated_at: Date.now() }).where('name', '=', name).where('status', '=', 'active').execute();
}

async function setStatus(db: Db, name: string, status: DomainStatus, detail: string | null, extra: { certificate_next_at: number | null; certificate_failures: number }): Promise<void> {
  const result = await db.updateTable('domains').set({ status, status_detail: detail, ...extra, updated_at: Date.now() }).where('name', '=', name).executeTakeFirst();
  if (Number(result.numUpdatedRows) > 0) await bumpCounter(db, 'alias_generation');
}
