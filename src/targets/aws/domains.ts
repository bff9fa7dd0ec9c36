import { DescribeCertificateCommand, RequestCertificateCommand } from '@aws-sdk/client-acm';
import { GetDistributionConfigCommand, UpdateDistributionCommand } from '@aws-sdk/client-cloudfront';
import type { AwsClients } from './clients.js';

export interface AwsCertificate {
  arn: string;
  status: string;
  /** the CNAME records that prove the domain to ACM, shown to the user as the edge's domains are */
  records: { name: string; type: string; value: string }[];
}

/**
 * A custom domain on AWS, first half: an ACM certificate (CloudFront takes them from us-east-1
 * only, which is where the clients' ACM is) with DNS validation. The idempotency token makes a
 * repeated request for the same domain answer the same certificate.
 */
export async function requestCertificate(aws: AwsClients, domain: string): Promise<AwsCertificate> {
  const token = domain.replace(/[^a-zA-Z0-9]/g, '').slice(0, 32) || 'domain';
  const made = await aws.acm.send(new RequestCertificateCommand({ DomainName: domain, ValidationMethod: 'DNS', IdempotencyToken: token }));
  return describeCertificate(aws, made.CertificateArn as string);
}

export async function describeCertificate(aws: AwsClients, arn: string): Promise<AwsCertificate> {
  const cert = (await aws.acm.send(new DescribeCertificateCommand({ CertificateArn: arn }))).Certificate;
  const records = (cert?.DomainValidationOptions ?? []).flatMap((o) =>
    o.ResourceRecord === undefined ? [] : [{ name: o.ResourceRecord.Name ?? '', type: o.ResourceRecord.Type ?? 'CNAME', value: o.ResourceRecord.Value ?? '' }],
  );
  return { arn, status: cert?.Status ?? 'UNKNOWN', records };
}

/**
 * Second half, once ACM issued the certificate: the domain joins the distribution's aliases,
 * served with that certificate (SNI), in one UpdateDistribution with If-Match.
 */
export async function addDistributionDomain(aws: AwsClients, distributionId: string, domain: string, certificateArn: string): Promise<void> {
  const current = await aws.cloudfront.send(new GetDistributionConfigCommand({ Id: distributionId }));
  const config = current.DistributionConfig;
  if (config === undefined) throw new Error(`distribution ${distributionId} has no config`);
  const names = new Set(config.Aliases?.Items ?? []);
  names.add(domain);
  config.Aliases = { Quantity: names.size, Items: [...names].sort() };
  config.ViewerCertificate = { ACMCertificateArn: certificateArn, SSLSupportMethod: 'sni-only', MinimumProtocolVersion: 'TLSv1.2_2021', CloudFrontDefaultCertificate: false };
  await aws.cloudfront.send(new UpdateDistributionCommand({ Id: distributionId, IfMatch: current.ETag, DistributionConfig: config }));
}
