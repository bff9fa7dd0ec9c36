import type { Config } from '../../config/index.js';
import { nextCheckDelay } from '../../domains/index.js';
import { AppError, toError } from '../../errors/index.js';
import { recordDomainEvent } from '../../notify/index.js';
import type { SecretBox } from '../../secrets.js';
import { bumpCounter, type Db, type DomainStatus, type Store } from '../../store/index.js';
import { readAwsAccess } from './access.js';
import { type AwsClients, awsClients } from './clients.js';
import { type AwsCertificate, deleteCertificate, describeCertificate, distributionDomainName, requestCertificate, setDistributionDomains } from './domains.js';
import { awsErrorDetail } from './errors.js';
import { type AwsResources, listTargetSettings, recordResources } from './target.js';

export interface AwsDomainDeps {
  store: Store;
  box: SecretBox;
  config: Pick<Config, 'awsEndpoints'>;
}

/** One distribution's custom domains: a project's deploy_targets row ('' the whole project). */
export interface AwsSlot {
  projectId: string;
  targetEnv: string;
}

export interface CertificateRow {
  arn: string;
  names: string[];
  status: string;
  records: AwsCertificate['records'];
  reason: string | null;
  role: 'pending' | 'serving' | 'retired';
  createdAt: number;
}

/** ACM's statuses after which a certificate never becomes ISSUED */
const GIVEN_UP = new Set(['FAILED', 'VALIDATION_TIMED_OUT', 'REVOKED', 'EXPIRED', 'INACTIVE']);

export async function slotCertificates(db: Db, slot: AwsSlot): Promise<CertificateRow[]> {
  const rows = await db.selectFrom('aws_certificates').selectAll().where('project_id', '=', slot.projectId).where('target_env', '=', slot.targetEnv).orderBy('created_at').execute();
  return rows.map((r) => ({
    arn: r.arn,
    names: JSON.parse(r.names) as string[],
    status: r.status,
    records: JSON.parse(r.records) as AwsCertificate['records'],
    reason: r.reason,
    role: r.role,
    createdAt: Number(r.created_at),
  }));
}

/** Record a certificate just requested (a second request answering the same ARN changes nothing). */
export async function saveRequestedCertificate(db: Db, slot: AwsSlot, names: readonly string[], cert: AwsCertificate): Promise<void> {
  const now = Date.now();
  await db
    .insertInto('aws_certificates')
    .values({
      arn: cert.arn,
      project_id: slot.projectId,
      target_env: slot.targetEnv,
      names: JSON.stringify([...names].sort()),
      status: cert.status,
      records: JSON.stringify(cert.records),
      reason: cert.reason ?? null,
      role: 'pending',
      created_at: now,
      updated_at: now,
    })
    .onConflict((oc) => oc.column('arn').doNothing())
    .execute();
}

export async function clientsForProject(deps: AwsDomainDeps, projectId: string): Promise<AwsClients> {
  const project = await deps.store.db.selectFrom('projects').select(['name', 'team_id']).where('id', '=', projectId).executeTakeFirstOrThrow();
  const access = project.team_id === null ? undefined : await readAwsAccess(deps.store, deps.box, project.team_id);
  if (access === undefined) throw new AppError('AWS_NOT_CONFIGURED', `Project ${project.name} goes live on AWS, but its team has no AWS access.`);
  return awsClients(access, deps.config.awsEndpoints);
}

async function slotResources(db: Db, slot: AwsSlot): Promise<AwsResources | undefined> {
  const setting = (await listTargetSettings(db, slot.projectId)).find((t) => t.environment === slot.targetEnv);
  return setting?.target === 'aws' ? setting.resources : undefined;
}

interface Outcome {
  status: DomainStatus;
  detail: string;
}

/**
 * Bring one distribution's custom domains to what the store says they should be, and each
 * domain's status to what AWS says. One certificate covers every domain of the distribution
 * (CloudFront takes one): while a new set waits for ACM, the distribution keeps serving the
 * names its current certificate covers, and switches to the new one, with every name, in one
 * update once ACM issued it. Certificates no longer used are deleted once CloudFront let go.
 *
 * `without`: a domain being removed (its alias goes, its row stays until this succeeded).
 * `onDemand`: a person asked (verify): a certificate ACM gave up on is requested again.
 * `strict`: AWS failures are thrown (DELETE reports them) rather than written as statuses.
 */
export async function syncAwsSlot(deps: AwsDomainDeps, slot: AwsSlot, opts: { without?: string; onDemand?: boolean; strict?: boolean } = {}): Promise<void> {
  const db = deps.store.db;
  const rows = await db.selectFrom('aws_domains').selectAll().where('project_id', '=', slot.projectId).where('target_env', '=', slot.targetEnv).execute();
  const wanted = rows
    .map((r) => r.name)
    .filter((n) => n !== opts.without)
    .sort();
  const outcomes = new Map<string, Outcome>();
  let aws: AwsClients | undefined;
  try {
    const resources = await slotResources(db, slot);
    if (resources === undefined) {
      for (const n of wanted) outcomes.set(n, { status: 'error', detail: 'The project no longer goes live on AWS: remove the domain and add it again to serve it from the edge.' });
      return;
    }
    aws = await clientsForProject(deps, slot.projectId);
    let certs = await slotCertificates(db, slot);
    const covers = (c: CertificateRow) => wanted.every((n) => c.names.includes(n));
    const serving = certs.find((c) => c.role === 'serving');
    let candidate: CertificateRow | undefined;
    if (wanted.length > 0) {
      candidate = serving !== undefined && covers(serving) ? serving : certs.filter((c) => c.role === 'pending' && covers(c)).pop();
      if (candidate !== undefined && candidate.role === 'pending') candidate = await refresh(db, aws, candidate);
      // a person asks again after fixing what ACM failed on: a new request (ACM never retries a failed one)
      if (candidate !== undefined && GIVEN_UP.has(candidate.status) && opts.onDemand === true) {
        await setRole(db, candidate.arn, 'retired');
        candidate = undefined;
      }
      if (candidate === undefined) {
        const made = await requestCertificate(aws, wanted, certs.length);
        await saveRequestedCertificate(db, slot, wanted, made);
        certs = await slotCertificates(db, slot);
        candidate = certs.find((c) => c.arn === made.arn);
      }
    }
    const distributionId = resources.distributionId;
    let cname = resources.distributionDomain;
    if (distributionId !== undefined && cname === undefined) {
      // a distribution the user named: learn its host name once, for the CNAME to show
      cname = await distributionDomainName(aws, distributionId);
      await recordResources(db, slot.projectId, slot.targetEnv, { distributionDomain: cname });
    }
    // every name Slipway certified for this distribution and does not want any more leaves its aliases
    const ours = new Set(certs.flatMap((c) => c.names));
    if (opts.without !== undefined) ours.add(opts.without);
    const unwanted = [...ours].filter((n) => !wanted.includes(n));
    let servingNow = serving;
    if (distributionId !== undefined) {
      if (wanted.length === 0) {
        await setDistributionDomains(aws, distributionId, { add: [], remove: unwanted }, null);
        servingNow = undefined;
      } else if (candidate?.status === 'ISSUED') {
        await setDistributionDomains(aws, distributionId, { add: wanted, remove: unwanted }, candidate.arn);
        servingNow = candidate;
        await db.updateTable('aws_domains').set({ distribution_id: distributionId }).where('name', 'in', wanted).execute();
      } else if (serving !== undefined) {
        // the new certificate is not there yet: keep serving what the current one covers
        const served = rows.filter((r) => r.distribution_id !== null && wanted.includes(r.name)).map((r) => r.name);
        await setDistributionDomains(aws, distributionId, { add: served, remove: unwanted }, served.length === 0 ? null : serving.arn);
        if (served.length === 0) servingNow = undefined;
      }
    }
    // roles: the one serving, the candidate pending, every other one retired and deleted when CloudFront let go
    for (const c of certs) {
      const role = c.arn === servingNow?.arn ? 'serving' : c.arn === candidate?.arn ? 'pending' : 'retired';
      if (role !== c.role) await setRole(db, c.arn, role);
      if (role === 'retired' && (await deleteCertificate(aws, c.arn))) await db.deleteFrom('aws_certificates').where('arn', '=', c.arn).execute();
      else if (role === 'retired') await db.updateTable('aws_certificates').set({ updated_at: Date.now() }).where('arn', '=', c.arn).execute();
    }
    const after = await db.selectFrom('aws_domains').select(['name', 'distribution_id']).where('project_id', '=', slot.projectId).where('target_env', '=', slot.targetEnv).execute();
    const served = new Set(after.filter((r) => r.distribution_id !== null && servingNow?.names.includes(r.name) === true).map((r) => r.name));
    for (const name of wanted) outcomes.set(name, served.has(name) ? servedOutcome(servingNow as CertificateRow, cname) : outcomeOf(name, candidate));
  } catch (err) {
    if (opts.strict === true) {
      if (err instanceof AppError) throw err;
      const e = awsErrorDetail(err, 'domain');
      throw new AppError('AWS_DOMAIN_FAILED', `AWS refused to change the distribution's domains: ${e.code}: ${e.message}`, { hint: e.hint, cause: toError(err) });
    }
    const detail = err instanceof AppError ? err.message : (({ code, message }) => `AWS answered ${code}: ${message}`)(awsErrorDetail(err, 'domain'));
    // a name CloudFront serves stays active through a failed check (AWS unreachable, throttled)
    for (const r of rows.filter((x) => wanted.includes(x.name))) {
      outcomes.set(r.name, r.distribution_id === null ? { status: 'error', detail } : { status: 'active', detail: `Served by CloudFront; the last check failed: ${detail}` });
    }
  } finally {
    aws?.destroy();
    await writeOutcomes(db, outcomes, opts.onDemand === true);
  }
}

function servedOutcome(cert: CertificateRow, cname: string | undefined): Outcome {
  return { status: 'active', detail: `Served by CloudFront (${cname ?? 'the distribution'}) with the ACM certificate ${cert.arn}.` };
}

/** A domain not served yet: what its certificate is waiting for. */
function outcomeOf(name: string, candidate: CertificateRow | undefined): Outcome {
  if (candidate === undefined) return { status: 'error', detail: `No certificate covers ${name}.` };
  if (GIVEN_UP.has(candidate.status)) {
    return { status: 'error', detail: `ACM did not issue the certificate for ${name}: ${candidate.status}${candidate.reason === null ? '' : ` (${candidate.reason})`}.` };
  }
  if (candidate.status === 'ISSUED') {
    return { status: 'pending-certificate', detail: `The certificate for ${name} is issued; the domain joins the CloudFront distribution with the project's first deployment to AWS.` };
  }
  return { status: 'pending-certificate', detail: `ACM is waiting to see the validation record of ${name} (certificate ${candidate.status}).` };
}

/** Ask ACM how a requested certificate is doing, and store it. */
async function refresh(db: Db, aws: AwsClients, cert: CertificateRow): Promise<CertificateRow> {
  if (cert.status === 'ISSUED' || GIVEN_UP.has(cert.status)) return cert;
  const now = await describeCertificate(aws, cert.arn);
  await db
    .updateTable('aws_certificates')
    .set({ status: now.status, records: JSON.stringify(now.records), reason: now.reason ?? null, updated_at: Date.now() })
    .where('arn', '=', cert.arn)
    .execute();
  return { ...cert, status: now.status, records: now.records, reason: now.reason ?? null };
}

async function setRole(db: Db, arn: string, role: CertificateRow['role']): Promise<void> {
  await db.updateTable('aws_certificates').set({ role, updated_at: Date.now() }).where('arn', '=', arn).execute();
}

/** Each domain's status and next check: a pending one soon and then less often, an active one every 6 h. */
async function writeOutcomes(db: Db, outcomes: Map<string, Outcome>, onDemand: boolean): Promise<void> {
  const now = Date.now();
  let changed = false;
  for (const [name, outcome] of outcomes) {
    const row = await db
      .selectFrom('aws_domains')
      .innerJoin('domains', 'domains.name', 'aws_domains.name')
      .select(['aws_domains.check_failures', 'domains.status'])
      .where('aws_domains.name', '=', name)
      .executeTakeFirst();
    if (row === undefined) continue; // removed meanwhile
    // failures count the checks that did not end in active: they space the next ones out
    const failures = outcome.status === 'active' ? 0 : onDemand ? 1 : row.check_failures + 1;
    const delay = outcome.status === 'active' ? nextCheckDelay('active', 0) : nextCheckDelay('pending-dns', failures);
    await db
      .updateTable('aws_domains')
      .set({ next_check_at: now + delay, check_failures: failures })
      .where('name', '=', name)
      .execute();
    await db.updateTable('domains').set({ status: outcome.status, status_detail: outcome.detail, dns_checked_at: now, updated_at: now }).where('name', '=', name).execute();
    if (row.status !== outcome.status) {
      changed = true;
      // the same events the edge's certificates raise, for the project's notifications
      if (outcome.status === 'active' || outcome.status === 'error') await recordDomainEvent(db, outcome.status === 'active' ? 'certificate.issued' : 'certificate.failing', name);
    }
  }
  if (changed) await bumpCounter(db, 'alias_generation');
}
