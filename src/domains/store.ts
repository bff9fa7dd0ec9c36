import type { Config } from '../config/index.js';
import { AppError } from '../errors/index.js';
import { bumpCounter, type Db, type Domain, type Project } from '../store/index.js';
import { nameCovers } from '../tls/certificates.js';
import type { DnsCheck, DnsSeen } from './dns.js';
import { normaliseDomainName, normaliseRedirectHost } from './names.js';
import { acmeOn, expectedRecords, nextCheckDelay, statusAfterCheck, whatToDo } from './status.js';

export const REDIRECT_STATUSES = [301, 302, 307, 308] as const;
export type RedirectStatus = (typeof REDIRECT_STATUSES)[number];

export interface DomainRequest {
  name: string;
  wildcard: boolean;
  redirectTo: string | null;
  redirectStatus: RedirectStatus | null;
  environment: string;
}

/**
 * Check a POST .../domains body: `{"name", "redirectTo"?, "redirectStatus"?, "environment"?}`.
 * `environment`: production (the default) or a named environment; a preview has no one deployment to serve.
 */
export function validateDomainRequest(body: Record<string, unknown>, baseDomain: string): DomainRequest {
  for (const field of Object.keys(body)) {
    if (!['name', 'redirectTo', 'redirectStatus', 'environment'].includes(field)) {
      throw new AppError('VALIDATION', `Unknown field ${JSON.stringify(field)}.`, {
        hint: 'Fields are name, redirectTo, redirectStatus and environment, for example: {"name": "www.example.com", "redirectTo": "example.com"}',
      });
    }
  }
  const { name, wildcard } = normaliseDomainName(body.name, baseDomain);
  // which environments exist is the route's check (it has the project); here only the shape
  const environment = body.environment ?? 'production';
  if (typeof environment !== 'string' || environment === 'preview') {
    throw new AppError('VALIDATION', 'environment must be "production" or a named environment of the project: a domain serves that environment\'s deployment.', {
      hint: 'Leave environment out for production, or send e.g. {"name": "staging.example.com", "environment": "staging"}.',
    });
  }
  let redirectTo: string | null = null;
  if (body.redirectTo !== undefined && body.redirectTo !== null) {
    redirectTo = normaliseRedirectHost(body.redirectTo);
    if (redirectTo === name)
      throw new AppError('VALIDATION', `redirectTo is ${name} itself: its visitors would be redirected forever.`, {
        hint: 'Redirect to another host, for example: {"name": "www.example.com", "redirectTo": "example.com"}',
      });
  }
  let redirectStatus: RedirectStatus | null = null;
  if (body.redirectStatus !== undefined && body.redirectStatus !== null) {
    if (!REDIRECT_STATUSES.includes(body.redirectStatus as RedirectStatus)) {
      throw new AppError('VALIDATION', `redirectStatus must be 301, 302, 307 or 308, got ${JSON.stringify(body.redirectStatus)}.`, {
        hint: 'For example: {"redirectTo": "example.com", "redirectStatus": 308} (308 keeps the method; 301/302 let browsers turn POST into GET)',
      });
    }
    if (redirectTo === null)
      throw new AppError('VALIDATION', 'redirectStatus goes with redirectTo.', { hint: 'For example: {"name": "www.example.com", "redirectTo": "example.com", "redirectStatus": 301}' });
    redirectStatus = body.redirectStatus as RedirectStatus;
  }
  return { name, wildcard, redirectTo, redirectStatus: redirectTo === null ? null : (redirectStatus ?? 308), environment };
}

/** The stored name a URL path segment means (normalised like a new name; anything else matches nothing). */
export function domainKey(raw: string, baseDomain: string): string {
  try {
    return normaliseDomainName(raw, baseDomain).name;
  } catch {
    return raw.toLowerCase();
  }
}

export async function findDomain(db: Db, name: string): Promise<Domain | undefined> {
  return db.selectFrom('domains').selectAll().where('name', '=', name).executeTakeFirst();
}

/** A project's domain, or DOMAIN_NOT_FOUND (another project's domain is not found either). */
export async function getProjectDomain(db: Db, project: Project, name: string): Promise<Domain> {
  const domain = await findDomain(db, name);
  if (domain === undefined || domain.project_id !== project.id) {
    throw new AppError('DOMAIN_NOT_FOUND', `Project "${project.name}" has no domain "${name}".`, {
      hint: `List its domains: slipway domains ls ${project.name} (GET /api/v1/projects/${project.name}/domains)`,
    });
  }
  return domain;
}

export async function listProjectDomains(db: Db, project: Project): Promise<Domain[]> {
  return db.selectFrom('domains').selectAll().where('project_id', '=', project.id).orderBy('name').execute();
}

/**
 * Add a domain with the result of its first DNS check, in the caller's transaction; the edges
 * route it within their next poll. `taken` decides what a clash tells the caller.
 */
export async function insertDomain(db: Db, config: Config, project: Project, request: DomainRequest, check: DnsCheck, taken: (db: Db, owner: Domain) => Promise<never>): Promise<Domain> {
  const existing = await findDomain(db, request.name);
  if (existing !== undefined) return taken(db, existing);
  const now = Date.now();
  const status = statusAfterCheck('pending-dns', check, acmeOn(config));
  const failures = check.ok === true ? 0 : 1;
  const domain: Domain = {
    name: request.name,
    project_id: project.id,
    environment: request.environment,
    redirect_to: request.redirectTo,
    redirect_status: request.redirectStatus,
    status,
    status_detail: check.detail,
    dns_checked_at: now,
    next_check_at: now + nextCheckDelay(status, failures),
    check_failures: failures,
    dns_seen: JSON.stringify(check.seen),
    created_at: now,
    updated_at: now,
  };
  await db.insertInto('domains').values(domain).execute();
  await bumpCounter(db, 'alias_generation');
  return domain;
}

/** Remove a project's domain (caller's transaction); every edge drops its route within its next poll. */
export async function deleteDomain(db: Db, project: Project, name: string): Promise<void> {
  const domain = await getProjectDomain(db, project, name);
  await db.deleteFrom('domains').where('name', '=', domain.name).execute();
  await bumpCounter(db, 'alias_generation');
}

/**
 * Store a DNS check's result (caller's transaction), reading the row again so a status the
 * ACME loop set meanwhile is kept. `onDemand`: a person asked (verify), so a wrong answer
 * restarts the backoff at its shortest. Undefined when the domain was removed meanwhile.
 * Routing does not depend on the status, so the alias generation is left alone.
 */
export async function recordDnsCheck(db: Db, config: Config, name: string, check: DnsCheck, onDemand: boolean): Promise<Domain | undefined> {
  const current = await findDomain(db, name);
  if (current === undefined) return undefined;
  const now = Date.now();
  const acme = acmeOn(config);
  let status = statusAfterCheck(current.status, check, acme);
  // active without a certificate, because HTTPS was turned on after its DNS was right: get one
  if (status === 'active' && acme && check.ok === true && !(await hasCertificate(db, name))) status = 'pending-certificate';
  const failures = check.ok === true ? 0 : onDemand ? 1 : current.check_failures + 1;
  // while DNS stays right, what the ACME loop wrote (its error, a postponement, a failed
  // renewal) stays the detail: it is what the owner must read
  // (the row changed after the last DNS check wrote it: that was the ACME loop)
  const acmeNote =
    check.ok === true && status === current.status && status !== 'pending-dns' && current.status_detail !== null && current.dns_checked_at !== null && current.updated_at > current.dns_checked_at;
  const detail = acmeNote ? current.status_detail : check.detail;
  // a failed lookup keeps what the last good one saw
  const seen = check.ok === undefined && current.dns_seen !== null ? current.dns_seen : JSON.stringify(check.seen);
  const changes = { status, status_detail: detail, dns_checked_at: now, next_check_at: now + nextCheckDelay(status, failures), check_failures: failures, dns_seen: seen, updated_at: now };
  await db.updateTable('domains').set(changes).where('name', '=', name).execute();
  return { ...current, ...changes };
}

/** Is some stored certificate valid for this name (a wildcard one label up counts)? */
async function hasCertificate(db: Db, name: string): Promise<boolean> {
  const now = Date.now();
  const rows = await db.selectFrom('certificates').select('names').where('not_after', '>', now).where('source', '!=', 'self-signed').execute();
  return rows.some((row) => (JSON.parse(row.names) as string[]).some((covered) => nameCovers(covered, name)));
}

/** Domains whose background check is due, the longest waiting first. */
export async function dueDomains(db: Db, now: number, limit: number): Promise<Domain[]> {
  return db.selectFrom('domains').selectAll().where('next_check_at', '<=', now).orderBy('next_check_at').limit(limit).execute();
}

/** A domain as the API shows it: its status, and what to do about it (the exact DNS records). */
export function serializeDomain(config: Config, domain: Domain, projectName: string) {
  const seen = parseSeen(domain.dns_seen);
  const records = expectedRecords(config, domain.name, seen?.apex ?? false);
  return {
    name: domain.name,
    project: projectName,
    environment: domain.environment,
    wildcard: domain.name.startsWith('*.'),
    redirect: domain.redirect_to === null ? null : { to: domain.redirect_to, status: domain.redirect_status ?? 308 },
    status: domain.status,
    statusDetail: domain.status_detail,
    todo: whatToDo(domain.status, domain.name, records, projectName),
    dns: {
      // create all of `addresses` (or, when `anyOne`, one of them), or else the `cname`
      addresses: records.addresses,
      anyOne: records.anyOne,
      cname: records.cname,
      notes: records.notes,
      seen,
      checkedAt: iso(domain.dns_checked_at),
      nextCheckAt: iso(domain.next_check_at),
      failedChecks: domain.check_failures,
    },
    createdAt: new Date(domain.created_at).toISOString(),
    updatedAt: new Date(domain.updated_at).toISOString(),
  };
}

function parseSeen(raw: string | null): DnsSeen | null {
  if (raw === null) return null;
  try {
    return JSON.parse(raw) as DnsSeen;
  } catch {
    return null;
  }
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(Number(ms)).toISOString();
}
