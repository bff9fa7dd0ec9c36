/** Where an S3 blob store lives, parsed from SLIPWAY_BLOB_URL (no SDK here: config imports this). */
export interface S3Location {
  readonly bucket: string;
  /** key prefix, '' or ending in '/' */
  readonly prefix: string;
  /** undefined: AWS S3 itself */
  readonly endpoint: string | undefined;
  readonly region: string;
  readonly forcePathStyle: boolean;
}

export const BLOB_URL_EXAMPLE = 's3://slipway-blobs/prod?endpoint=http://127.0.0.1:9000&region=us-east-1&forcePathStyle=1';

/** s3://bucket/prefix?endpoint=...&region=...&forcePathStyle=1; throws an Error saying what is wrong. */
export function parseS3Url(raw: string): S3Location {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('it is not a URL');
  }
  if (url.protocol !== 's3:') throw new Error(`the scheme must be s3://, got ${url.protocol}//`);
  if (url.username !== '' || url.password !== '') throw new Error('credentials do not go in the URL (they come from the AWS chain: environment, profile, instance role)');
  const bucket = url.hostname;
  // S3's bucket naming rules, loosely: what the other S3-compatible servers accept too
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new Error(`${JSON.stringify(bucket)} is not a bucket name`);
  const path = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '');
  const known = new Set(['endpoint', 'region', 'forcePathStyle']);
  for (const key of url.searchParams.keys()) if (!known.has(key)) throw new Error(`unknown parameter ${JSON.stringify(key)} (known: endpoint, region, forcePathStyle)`);
  const endpoint = url.searchParams.get('endpoint') ?? undefined;
  if (endpoint !== undefined && !/^https?:\/\/[^/]/.test(endpoint)) throw new Error(`endpoint must be an http(s):// URL, got ${JSON.stringify(endpoint)}`);
  const style = url.searchParams.get('forcePathStyle') ?? '0';
  if (!['0', '1', 'true', 'false'].includes(style)) throw new Error(`forcePathStyle must be 1 or 0, got ${JSON.stringify(style)}`);
  return {
    bucket,
    prefix: path === '' ? '' : `${path}/`,
    endpoint,
    region: url.searchParams.get('region') ?? 'us-east-1',
    forcePathStyle: style === '1' || style === 'true',
  };
}
