import {
  type CacheBehavior,
  type CloudFrontClient,
  CreateDistributionCommand,
  CreateInvalidationCommand,
  type DistributionConfig,
  GetDistributionConfigCommand,
  type Origin,
  UpdateDistributionCommand,
} from '@aws-sdk/client-cloudfront';
import { SHARED_PREFIX } from './assets.js';

// AWS's managed policies (the same ids in every account)
const CACHING_OPTIMIZED = '658327ea-f89d-4fab-a63d-7e88639e58f6';
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const ALL_VIEWER_EXCEPT_HOST = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';

export const ASSETS_ORIGIN = 'slipway-assets';
const SHARED_ORIGIN = 'slipway-shared';
const SERVER_ORIGIN = 'slipway-server';
const IMAGE_ORIGIN = 'slipway-image';

export interface DistributionPlan {
  callerReference: string;
  comment: string;
  bucket: string;
  region: string;
  originAccessControlId: string;
  /** '/deployments/<id>' */
  assetRoot: string;
  /** fingerprinted folders ("_next/static/") served from the shared prefix */
  sharedFolders: string[];
  serverUrl?: string;
  imageUrl?: string;
}

const hostOf = (url: string) => new URL(url).host;

function functionOrigin(id: string, url: string): Origin {
  return {
    Id: id,
    DomainName: hostOf(url),
    OriginPath: '',
    CustomOriginConfig: { HTTPPort: 80, HTTPSPort: 443, OriginProtocolPolicy: 'https-only', OriginSslProtocols: { Quantity: 1, Items: ['TLSv1.2'] } },
  };
}

function behavior(pathPattern: string, origin: string, dynamic: boolean): CacheBehavior {
  const methods = dynamic ? ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE'] : ['GET', 'HEAD'];
  return {
    PathPattern: pathPattern,
    TargetOriginId: origin,
    ViewerProtocolPolicy: 'redirect-to-https',
    Compress: true,
    AllowedMethods: { Quantity: methods.length, Items: methods as never, CachedMethods: { Quantity: 2, Items: ['GET', 'HEAD'] } },
    CachePolicyId: dynamic ? CACHING_DISABLED : CACHING_OPTIMIZED,
    ...(dynamic ? { OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST } : {}),
  };
}

/**
 * The distribution in front of a project: the deployment's asset root and the shared
 * fingerprinted folders from the private bucket (through the origin access control), and, for a
 * server, everything else from the server function's `live` alias URL.
 */
export function distributionConfig(plan: DistributionPlan): DistributionConfig {
  const s3Domain = `${plan.bucket}.s3.${plan.region}.amazonaws.com`;
  const s3Origin = (id: string, path: string): Origin => ({
    Id: id,
    DomainName: s3Domain,
    OriginPath: path,
    OriginAccessControlId: plan.originAccessControlId,
    S3OriginConfig: { OriginAccessIdentity: '' },
  });
  const origins = [s3Origin(ASSETS_ORIGIN, plan.assetRoot), s3Origin(SHARED_ORIGIN, `/${SHARED_PREFIX}`)];
  if (plan.serverUrl !== undefined) origins.push(functionOrigin(SERVER_ORIGIN, plan.serverUrl));
  if (plan.imageUrl !== undefined) origins.push(functionOrigin(IMAGE_ORIGIN, plan.imageUrl));
  const behaviors = plan.sharedFolders.map((folder) => behavior(`/${folder}*`, SHARED_ORIGIN, false));
  if (plan.imageUrl !== undefined) behaviors.push(behavior('/_next/image*', IMAGE_ORIGIN, true));
  // with a server, files of the asset root are reached by their own paths; the server answers the rest
  const { PathPattern: _all, ...fallback } = behavior('*', plan.serverUrl === undefined ? ASSETS_ORIGIN : SERVER_ORIGIN, plan.serverUrl !== undefined);
  return {
    CallerReference: plan.callerReference,
    Comment: plan.comment,
    Enabled: true,
    ...(plan.serverUrl === undefined ? { DefaultRootObject: 'index.html' } : {}),
    HttpVersion: 'http2and3',
    IsIPV6Enabled: true,
    PriceClass: 'PriceClass_100',
    Origins: { Quantity: origins.length, Items: origins },
    DefaultCacheBehavior: fallback,
    CacheBehaviors: { Quantity: behaviors.length, Items: behaviors },
  };
}

export async function createDistribution(cf: CloudFrontClient, plan: DistributionPlan): Promise<{ id: string; arn: string; domainName: string; etag: string; status: string }> {
  const made = await cf.send(new CreateDistributionCommand({ DistributionConfig: distributionConfig(plan) }));
  const d = made.Distribution;
  if (d?.Id === undefined) throw new Error('CloudFront CreateDistribution answered no distribution');
  return { id: d.Id, arn: d.ARN ?? '', domainName: d.DomainName ?? '', etag: made.ETag ?? '', status: d.Status ?? '' };
}

/**
 * Point the distribution's asset origin at a deployment's root: one UpdateDistribution with the
 * ETag just read as If-Match, so a change someone made meanwhile is never overwritten (AWS then
 * answers PreconditionFailed and the step fails, to be retried).
 */
export async function setAssetRoot(cf: CloudFrontClient, distributionId: string, assetRoot: string): Promise<{ etag: string; status: string; domainName: string }> {
  const current = await cf.send(new GetDistributionConfigCommand({ Id: distributionId }));
  const config = current.DistributionConfig;
  const origin = config?.Origins?.Items?.find((o) => o.Id === ASSETS_ORIGIN);
  if (config === undefined || origin === undefined) throw new Error(`distribution ${distributionId} has no origin "${ASSETS_ORIGIN}": was it made by Slipway?`);
  origin.OriginPath = assetRoot;
  const updated = await cf.send(new UpdateDistributionCommand({ Id: distributionId, IfMatch: current.ETag, DistributionConfig: config }));
  return { etag: updated.ETag ?? '', status: updated.Distribution?.Status ?? '', domainName: updated.Distribution?.DomainName ?? '' };
}

/** Invalidate what CloudFront may have cached under names that do not change (never the fingerprinted files). */
export async function invalidate(cf: CloudFrontClient, distributionId: string, mutablePaths: readonly string[], callerReference: string): Promise<string | undefined> {
  if (mutablePaths.length === 0) return undefined;
  const paths = new Set<string>();
  for (const p of mutablePaths) {
    paths.add(encodeURI(p));
    // an index.html is also reached as its folder
    if (p.endsWith('/index.html')) paths.add(encodeURI(p.slice(0, -'index.html'.length)));
  }
  // past CloudFront's limit of paths per batch one wildcard is cheaper and within limits
  const items = paths.size > 1000 ? ['/*'] : [...paths];
  const out = await cf.send(
    new CreateInvalidationCommand({ DistributionId: distributionId, InvalidationBatch: { CallerReference: callerReference, Paths: { Quantity: items.length, Items: items } } }),
  );
  return out.Invalidation?.Id;
}
