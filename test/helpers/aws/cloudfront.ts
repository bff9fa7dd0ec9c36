import { ACCOUNT_ID, AwsError, awsId, type Service } from './account.js';
import { type AcmState, certificateCovers } from './identity.js';

/**
 * CloudFront's distributions (config + ETag; an update needs the current ETag as If-Match, as
 * on AWS), origin access controls and invalidations. Config is kept as decoded from the request,
 * so a read gives back exactly what was last written.
 */
export interface Distribution {
  id: string;
  config: Record<string, unknown>;
  etag: string;
  status: 'InProgress' | 'Deployed';
  lastModified: Date;
  invalidations: { id: string; paths: string[]; callerReference: string; created: Date }[];
  updates: number;
  /** the certificate an update replaced: CloudFront holds it until the change is deployed */
  releasing?: string;
}

export interface CloudFrontState extends Service {
  distributions: Map<string, Distribution>;
  originAccessControls: Map<string, { config: Record<string, unknown>; etag: string }>;
}

/** `acm`: the account's certificates, which an alias must be covered by (and which CloudFront keeps in use). */
export function createCloudFront(acm?: AcmState): CloudFrontState {
  const distributions = new Map<string, Distribution>();
  const originAccessControls = new Map<string, { config: Record<string, unknown>; etag: string }>();
  const state: CloudFrontState = { distributions, originAccessControls, handlers: {} };
  const newEtag = () => awsId('E', 14);

  const find = (id: unknown): Distribution => {
    const d = distributions.get(String(id));
    if (d === undefined) throw new AwsError('NoSuchDistribution', 'The specified distribution does not exist.', 404);
    return d;
  };
  const out = (d: Distribution) => ({
    Id: d.id,
    ARN: `arn:aws:cloudfront::${ACCOUNT_ID}:distribution/${d.id}`,
    Status: d.status,
    LastModifiedTime: d.lastModified,
    InProgressInvalidationBatches: 0,
    DomainName: `${d.id.toLowerCase()}.cloudfront.net`,
    DistributionConfig: d.config,
  });
  // a read after a change sees it deployed: the stand-in does not make tests wait for propagation
  const settle = (d: Distribution) => {
    const before = d.status;
    d.status = 'Deployed';
    delete d.releasing;
    return before;
  };
  const checkConfig = (config: Record<string, unknown>, self: string | undefined) => {
    const origins = config.Origins as { Quantity: number; Items?: { Id: string; OriginAccessControlId?: string }[] };
    if (origins.Quantity !== (origins.Items?.length ?? 0)) throw new AwsError('InvalidArgument', 'Origins.Quantity does not match the number of Items', 400);
    const ids = new Set(origins.Items?.map((o) => o.Id));
    for (const o of origins.Items ?? []) {
      if (o.OriginAccessControlId && !originAccessControls.has(o.OriginAccessControlId)) throw new AwsError('NoSuchOriginAccessControl', 'The origin access control does not exist.', 404);
    }
    const behaviors = [config.DefaultCacheBehavior, ...(((config.CacheBehaviors as { Items?: unknown[] } | undefined)?.Items ?? []) as unknown[])] as { TargetOriginId: string }[];
    for (const b of behaviors)
      if (!ids.has(b.TargetOriginId)) throw new AwsError('NoSuchOrigin', `One or more of your cache behaviors point at origin ${b.TargetOriginId}, which does not exist.`, 404);
    const cb = config.CacheBehaviors as { Quantity: number; Items?: unknown[] } | undefined;
    if (cb !== undefined && cb.Quantity !== (cb.Items?.length ?? 0)) throw new AwsError('InvalidArgument', 'CacheBehaviors.Quantity does not match the number of Items', 400);
    checkAliases(config, self);
  };
  /** Custom names need a certificate that covers each (ACM, us-east-1, issued) and belong to one distribution. */
  const checkAliases = (config: Record<string, unknown>, self: string | undefined) => {
    const aliases = config.Aliases as { Quantity: number; Items?: string[] } | undefined;
    const names = aliases?.Items ?? [];
    if (aliases !== undefined && aliases.Quantity !== names.length) throw new AwsError('InvalidArgument', 'Aliases.Quantity does not match the number of Items', 400);
    const viewer = config.ViewerCertificate as { ACMCertificateArn?: string; CloudFrontDefaultCertificate?: boolean; SSLSupportMethod?: string } | undefined;
    const arn = viewer?.ACMCertificateArn;
    if (arn !== undefined && viewer?.CloudFrontDefaultCertificate === true)
      throw new AwsError('InvalidViewerCertificate', 'Specify an ACM certificate or the CloudFront default certificate, not both.', 400);
    if (arn !== undefined && viewer?.SSLSupportMethod === undefined) throw new AwsError('InvalidViewerCertificate', 'An ACM certificate needs an SSLSupportMethod.', 400);
    if (names.length === 0 && arn === undefined) return;
    const cert = arn === undefined ? undefined : acm?.certificates.get(arn);
    if (names.length > 0 && arn === undefined) throw new AwsError('InvalidViewerCertificate', 'To add an alternate domain name (CNAME), attach a trusted certificate that validates it.', 400);
    if (cert === undefined || cert.region !== 'us-east-1' || cert.status !== 'ISSUED')
      throw new AwsError('InvalidViewerCertificate', `The certificate ${arn} does not exist in us-east-1 or is not issued.`, 400);
    const covered = [cert.domain, ...cert.sans];
    for (const n of names) {
      if (!certificateCovers(covered, n))
        throw new AwsError('InvalidViewerCertificate', `The certificate that is attached to your distribution doesn't cover the alternate domain name (CNAME) ${n}.`, 400);
      for (const other of distributions.values()) {
        if (other.id === self) continue;
        const theirs = ((other.config.Aliases as { Items?: string[] } | undefined)?.Items ?? []) as string[];
        if (theirs.includes(n)) throw new AwsError('CNAMEAlreadyExists', `One or more of the CNAMEs you provided (${n}) are already associated with a different resource.`, 409);
      }
    }
  };
  const certificateOf = (config: Record<string, unknown>) => (config.ViewerCertificate as { ACMCertificateArn?: string } | undefined)?.ACMCertificateArn;
  if (acm !== undefined) {
    acm.usedBy = (arn) => [...distributions.values()].filter((d) => certificateOf(d.config) === arn || d.releasing === arn).map((d) => d.id);
  }

  state.handlers = {
    CreateDistribution: (input) => {
      const config = input.DistributionConfig as Record<string, unknown>;
      checkConfig(config, undefined);
      if ([...distributions.values()].some((d) => d.config.CallerReference === config.CallerReference))
        throw new AwsError('DistributionAlreadyExists', 'The caller reference you attempted to create the distribution with is associated with another distribution.', 409);
      const d: Distribution = { id: awsId('E', 14), config, etag: newEtag(), status: 'InProgress', lastModified: new Date(), invalidations: [], updates: 0 };
      distributions.set(d.id, d);
      return { Distribution: out(d), ETag: d.etag, Location: `https://cloudfront.amazonaws.com/2020-05-31/distribution/${d.id}` };
    },
    GetDistribution: (input) => {
      const d = find(input.Id);
      const shown = out(d);
      settle(d);
      return { Distribution: shown, ETag: d.etag };
    },
    GetDistributionConfig: (input) => {
      const d = find(input.Id);
      return { DistributionConfig: d.config, ETag: d.etag };
    },
    UpdateDistribution: (input) => {
      const d = find(input.Id);
      if (input.IfMatch === undefined) throw new AwsError('InvalidIfMatchVersion', 'The If-Match version is missing or not valid for the resource.', 400);
      if (input.IfMatch !== d.etag) throw new AwsError('PreconditionFailed', 'The precondition given in one or more of the request header fields evaluated to false.', 412);
      const config = input.DistributionConfig as Record<string, unknown>;
      checkConfig(config, d.id);
      if (config.CallerReference !== d.config.CallerReference) throw new AwsError('IllegalUpdate', 'CallerReference cannot be changed.', 400);
      const replaced = certificateOf(d.config);
      if (replaced !== undefined && replaced !== certificateOf(config)) d.releasing = replaced;
      d.config = config;
      d.etag = newEtag();
      d.status = 'InProgress';
      d.lastModified = new Date();
      d.updates += 1;
      return { Distribution: out(d), ETag: d.etag };
    },
    CreateInvalidation: (input) => {
      const d = find(input.DistributionId);
      const batch = input.InvalidationBatch as { CallerReference: string; Paths: { Quantity: number; Items?: string[] } };
      const paths = batch.Paths.Items ?? [];
      if (batch.Paths.Quantity !== paths.length || paths.length === 0) throw new AwsError('InvalidArgument', 'Paths.Quantity must equal the number of paths, and be at least 1', 400);
      for (const p of paths) if (!p.startsWith('/')) throw new AwsError('InvalidArgument', `Invalidation path ${p} must start with /`, 400);
      // the same CallerReference is the same request: AWS answers the first invalidation again
      const again = d.invalidations.find((i) => i.callerReference === batch.CallerReference);
      const inv = again ?? { id: awsId('I', 14), paths, callerReference: batch.CallerReference, created: new Date() };
      if (again === undefined) d.invalidations.push(inv);
      return {
        Location: `https://cloudfront.amazonaws.com/2020-05-31/distribution/${d.id}/invalidation/${inv.id}`,
        Invalidation: {
          Id: inv.id,
          Status: 'Completed',
          CreateTime: inv.created,
          InvalidationBatch: { CallerReference: inv.callerReference, Paths: { Quantity: inv.paths.length, Items: inv.paths } },
        },
      };
    },
    ListInvalidations: (input) => {
      const d = find(input.DistributionId);
      const items = d.invalidations.map((i) => ({ Id: i.id, CreateTime: i.created, Status: 'Completed' }));
      return { InvalidationList: { Marker: '', MaxItems: 100, IsTruncated: false, Quantity: items.length, Items: items } };
    },
    CreateOriginAccessControl: (input) => {
      const config = input.OriginAccessControlConfig as Record<string, unknown>;
      if ([...originAccessControls.values()].some((o) => o.config.Name === config.Name))
        throw new AwsError('OriginAccessControlAlreadyExists', `An origin access control named ${config.Name} already exists.`, 409);
      const id = awsId('E', 14);
      const etag = newEtag();
      originAccessControls.set(id, { config, etag });
      return { OriginAccessControl: { Id: id, OriginAccessControlConfig: config }, ETag: etag, Location: `https://cloudfront.amazonaws.com/2020-05-31/origin-access-control/${id}` };
    },
    GetOriginAccessControl: (input) => {
      const oac = originAccessControls.get(String(input.Id));
      if (oac === undefined) throw new AwsError('NoSuchOriginAccessControl', 'The origin access control does not exist.', 404);
      return { OriginAccessControl: { Id: String(input.Id), OriginAccessControlConfig: oac.config }, ETag: oac.etag };
    },
  };
  return state;
}
