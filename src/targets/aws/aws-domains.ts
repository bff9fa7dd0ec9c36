import { type DomainRequest, findDomain, type serializeDomain } from '../../domains/index.js';
import { AppError, toError } from '../../errors/index.js';
import { bumpCounter, type Db, type Domain, type Project } from '../../store/index.js';
import { requestCertificate } from './domains.js';
import { awsErrorDetail } from './errors.js';
import { type AwsDomainDeps, type AwsSlot, clientsForProject, saveRequestedCertificate, slotCertificates, syncAwsSlot } from './aws-domain-sync.js';
import { listTargetSettings, resolveTarget } from './target.js';

/**
 * Custom domains of a project that goes live on AWS (issue 13): the same API and CLI as the
 * edge's domains, but CloudFront serves them with an ACM certificate; see docs/aws.md.
 * The routes call these where the project's target is AWS; everything else is the edge's.
 */

/** The distribution a new domain of `environment` would join, or undefined: the edge serves it. */
export async function awsSlotFor(db: Db, project: Project, environment: string): Promise<AwsSlot | undefined> {
  const setting = await resolveTarget(db, project.id, environment);
  if (setting.target !== 'aws') return undefined;
  return { projectId: project.id, targetEnv: setting.environment };
}

/** The AWS side of a domain, if AWS serves it. */
export async function awsSlotOfDomain(db: Db, name: string): Promise<AwsSlot | undefined> {
  const row = await db.selectFrom('aws_domains').select(['project_id', 'target_env']).where('name', '=', name).executeTakeFirst();
  return row === undefined ? undefined : { projectId: row.project_id, targetEnv: row.target_env };
}

/**
 * Add a domain served by CloudFront: a certificate for the distribution's whole set of names
 * with the new one is requested first (nothing is stored when AWS refuses), then the rows, then
 * a first look at ACM. `taken` and `inTx` are the route's clash answer and audit, in the insert's transaction.
 */
export async function addAwsDomain(
  deps: AwsDomainDeps,
  project: Project,
  slot: AwsSlot,
  request: DomainRequest,
  taken: (db: Db, owner: Domain) => Promise<never>,
  inTx: (db: Db, domain: Domain) => Promise<void>,
): Promise<Domain> {
  if (request.redirectTo !== null) {
    throw new AppError('AWS_DOMAIN_UNSUPPORTED', `${request.name} would redirect to ${request.redirectTo}, but redirect domains are not supported on AWS yet.`, {
      hint: `Serve the redirect from Slipway's edge: point ${request.name} at the edge and add it to a project whose target is the edge, or redirect at your DNS provider.`,
    });
  }
  if (request.environment !== 'production') {
    throw new AppError('AWS_DOMAIN_UNSUPPORTED', `On AWS only production has a CloudFront distribution, so a domain cannot serve environment "${request.environment}".`, {
      hint: "Add the domain for production (leave environment out), or set that environment's target to the edge: slipway target set <project> edge --environment <name>.",
    });
  }
  const names = [...new Set([...(await slotNames(deps.store.db, slot)), request.name])].sort();
  const aws = await clientsForProject(deps, project.id);
  let cert: Awaited<ReturnType<typeof requestCertificate>>;
  try {
    cert = await requestCertificate(aws, names, (await slotCertificates(deps.store.db, slot)).length);
  } catch (err) {
    const e = awsErrorDetail(err, 'certificate');
    throw new AppError('AWS_DOMAIN_FAILED', `ACM refused the certificate for ${request.name}: ${e.code}: ${e.message}`, { hint: e.hint, cause: toError(err) });
  } finally {
    aws.destroy();
  }
  const domain = await deps.store.tx(async (db) => {
    const existing = await findDomain(db, request.name);
    if (existing !== undefined) return taken(db, existing);
    const now = Date.now();
    const row: Domain = {
      name: request.name,
      project_id: project.id,
      environment: request.environment,
      redirect_to: null,
      redirect_status: null,
      status: 'pending-certificate',
      status_detail: `ACM is waiting to see the validation record of ${request.name}.`,
      dns_checked_at: null,
      // null: the edge's DNS check leaves it alone; aws_domains has its own schedule
      next_check_at: null,
      check_failures: 0,
      dns_seen: null,
      created_at: now,
      updated_at: now,
    };
    await db.insertInto('domains').values(row).execute();
    await db
      .insertInto('aws_domains')
      .values({ name: request.name, project_id: project.id, target_env: slot.targetEnv, distribution_id: null, next_check_at: now, check_failures: 0, created_at: now })
      .execute();
    await saveRequestedCertificate(db, slot, names, cert);
    await bumpCounter(db, 'alias_generation');
    await inTx(db, row);
    return row;
  });
  await syncAwsSlot(deps, slot);
  return (await findDomain(deps.store.db, domain.name)) ?? domain;
}

/** Take a domain out of the distribution before its rows go; AWS refusing is the caller's error (nothing changed). */
export async function removeAwsDomain(deps: AwsDomainDeps, slot: AwsSlot, name: string): Promise<void> {
  await syncAwsSlot(deps, slot, { without: name, strict: true });
}

/** Look at ACM and the distribution now (slipway domains verify); a certificate ACM gave up on is requested again. */
export async function verifyAwsDomain(deps: AwsDomainDeps, slot: AwsSlot, name: string): Promise<Domain | undefined> {
  await syncAwsSlot(deps, slot, { onDemand: true });
  return findDomain(deps.store.db, name);
}

async function slotNames(db: Db, slot: AwsSlot): Promise<string[]> {
  const rows = await db.selectFrom('aws_domains').select('name').where('project_id', '=', slot.projectId).where('target_env', '=', slot.targetEnv).execute();
  return rows.map((r) => r.name);
}

interface AwsDomainView {
  certificate: { arn: string; status: string; names: string[]; reason: string | null; records: { type: string; name: string; value: string }[] } | null;
  /** d123.cloudfront.net, or null before the first deployment made the distribution */
  distributionDomain: string | null;
  nextCheckAt: number;
  failedChecks: number;
}

/** What the API shows of a project's AWS domains, by name (one read of each table). */
export async function awsDomainViews(db: Db, projectId: string): Promise<Map<string, AwsDomainView>> {
  const rows = await db.selectFrom('aws_domains').selectAll().where('project_id', '=', projectId).execute();
  const views = new Map<string, AwsDomainView>();
  for (const targetEnv of new Set(rows.map((r) => r.target_env))) {
    const slot = { projectId, targetEnv };
    const certs = (await slotCertificates(db, slot)).filter((c) => c.role !== 'retired');
    const setting = (await listTargetSettings(db, projectId)).find((t) => t.environment === targetEnv);
    const distributionDomain = setting?.resources.distributionDomain ?? null;
    for (const r of rows.filter((x) => x.target_env === targetEnv)) {
      // the newest certificate with the name: while a new set waits for ACM, its records are what to create
      const cert = certs.filter((c) => c.names.includes(r.name)).pop();
      views.set(r.name, {
        certificate:
          cert === undefined
            ? null
            : {
                arn: cert.arn,
                status: cert.status,
                names: cert.names,
                reason: cert.reason,
                records: cert.records.filter((x) => x.domain === r.name).map(({ type, name, value }) => ({ type, name, value })),
              },
        distributionDomain,
        nextCheckAt: Number(r.next_check_at),
        failedChecks: r.check_failures,
      });
    }
  }
  return views;
}

type ShownDomain = ReturnType<typeof serializeDomain>;

/** A domain as serializeDomain shows it, with the AWS records to create instead of the edge's. */
export function showAwsDomain(shown: ShownDomain, view: AwsDomainView): ShownDomain & { dns: Record<string, unknown> } {
  const { name, project } = shown;
  const cname = { type: 'CNAME' as const, name, value: view.distributionDomain ?? '(the distribution, after the first deployment)' };
  const validation = view.certificate?.records ?? [];
  const notes = [
    view.distributionDomain === null
      ? `The project has no CloudFront distribution yet: its first deployment to AWS makes it, and then shows the CNAME for ${name}.`
      : `Point ${name} at ${view.distributionDomain} with a CNAME (at a zone apex, which cannot take one: an ALIAS/ANAME record, or a Route 53 alias, to the distribution).`,
    'Keep the validation record: ACM renews the certificate with it.',
  ];
  if (validation.length === 0 && view.certificate !== null) notes.push('ACM shows the validation record a few seconds after the request: run slipway domains verify to see it.');
  let todo = shown.todo;
  if (shown.status === 'pending-certificate') {
    const create = [...validation.map((r) => `${r.type} ${r.name} -> ${r.value}`), ...(view.distributionDomain === null ? [] : [`CNAME ${name} -> ${view.distributionDomain}`])].join(' and ');
    todo = `At your DNS provider, create ${create || 'the records shown'}. ACM issues the certificate once it sees them; Slipway looks by itself, or run: slipway domains verify ${project} ${name}`;
  } else if (shown.status === 'active') todo = `Nothing to do: ${name} is served by CloudFront.`;
  else if (shown.status === 'error') todo = `Fix what the detail says, then run: slipway domains verify ${project} ${name} (a certificate ACM gave up on is requested again).`;
  return {
    ...shown,
    todo,
    dns: {
      target: 'aws',
      // the edge's fields, for clients that read them: no address records on AWS
      addresses: [],
      anyOne: false,
      cname: view.distributionDomain === null ? null : cname,
      notes,
      certificate: view.certificate,
      // every record to create: the certificate's validation CNAME(s), then the domain's own CNAME
      records: [...validation.map((r) => ({ ...r, purpose: 'certificate' })), { ...cname, purpose: 'traffic' }],
      seen: null,
      checkedAt: shown.dns.checkedAt,
      nextCheckAt: new Date(view.nextCheckAt).toISOString(),
      failedChecks: view.failedChecks,
    },
  };
}
