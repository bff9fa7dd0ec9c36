import type { DistributionConfig } from '@aws-sdk/client-cloudfront';
import yazl from 'yazl';

/** A Lambda zip holding one tiny handler that answers `body`. */
export function tinyZip(body: string): Promise<Buffer> {
  return zipOf(`export const handler = async () => ({ statusCode: 200, body: ${JSON.stringify(body)} });\n`);
}

/**
 * A Lambda zip whose handler answers a Function URL event (payload 2.0) with what it received, as
 * JSON: `label`, method, path, query, the Host and forwarded headers, the body, and GREETING from
 * its variables; plus a header and two cookies of its own.
 */
export function echoZip(label: string): Promise<Buffer> {
  const source = `export const handler = async (event) => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json', 'x-from': 'function' },
  cookies: ['a=1; Path=/', 'b=2; Path=/'],
  body: JSON.stringify({
    label: ${JSON.stringify(label)},
    method: event.requestContext.http.method,
    path: event.rawPath,
    query: event.rawQueryString,
    host: event.headers.host,
    forwardedHost: event.headers['x-forwarded-host'] ?? null,
    cookies: event.cookies ?? [],
    body: event.body === undefined ? null : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8').toString('utf8'),
    greeting: process.env.GREETING ?? null,
  }),
});
`;
  return zipOf(source);
}

function zipOf(source: string): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  zip.addBuffer(Buffer.from(source), 'index.mjs');
  zip.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}

/** The smallest distribution config CloudFront accepts: one S3 origin behind an origin access control. */
export function distributionConfig(callerReference: string, oacId: string): DistributionConfig {
  return {
    CallerReference: callerReference,
    Comment: 'test',
    Enabled: true,
    Origins: {
      Quantity: 1,
      Items: [{ Id: 'assets', DomainName: 'b.s3.eu-west-1.amazonaws.com', OriginPath: '/deployments/first', OriginAccessControlId: oacId, S3OriginConfig: { OriginAccessIdentity: '' } }],
    },
    DefaultCacheBehavior: { TargetOriginId: 'assets', ViewerProtocolPolicy: 'redirect-to-https', CachePolicyId: '658327ea-f89d-4fab-a63d-7e88639e58f6' },
  };
}
