import type { DistributionConfig } from '@aws-sdk/client-cloudfront';
import yazl from 'yazl';

/** A Lambda zip holding one tiny handler that answers `body`. */
export function tinyZip(body: string): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  zip.addBuffer(Buffer.from(`export const handler = async () => ({ statusCode: 200, body: ${JSON.stringify(body)} });\n`), 'index.mjs');
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
