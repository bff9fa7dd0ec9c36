import { createHash } from 'node:crypto';
import { DeleteCertificateCommand, DescribeCertificateCommand, RequestCertificateCommand } from '@aws-sdk/client-acm';
import { GetDistributionCommand, GetDistributionConfigCommand, UpdateDistributionCommand } from '@aws-sdk/client-cloudfront';
import type { AwsClients } from './clients.js';

export interface AwsCertificate {
  arn: string;
  status: string;
  /** the CNAME records that prove the domain to ACM, shown to the user as the edge's domains are */
  records: { domain: string; name: string; type: string; value: string }[];
  /** ACM's FailureReason once it gave up (FAILED, VALIDATION_TIMED_OUT) */
  reason?: string;
}

/**
 * A custom domain on AWS, first half: an ACM certificate (CloudFront takes them from us-east-1
 * only, which is where the clients' ACM is) with DNS validation, for one name or a set (the
 * first is the subject, all of them alternative names). The idempotency token makes a repeated
 * request for the same set (and `attempt`) answer the same certificate, so two api processes
 * adding at once do not order two.
 */
export async function requestCertificate(aws: AwsClients, names: string | readonly string[], attempt = 0): Promise<AwsCertificate> {
  const list = typeof names === 'string' ? [names] : [...names];
  const [subject] = list;
  if (subject === undefined) throw new Error('a certificate needs at least one name');
  // ACM's token: at most 32 word characters
  const token = createHash('sha256')
    .update(`${list.join(',')}#${attempt}`)
    .digest('hex')
    .slice(0, 32);
  const made = await aws.acm.send(
    new RequestCertificateCommand({
      DomainName: subject,
      ValidationMethod: 'DNS',
      IdempotencyToken: token,
      ...(list.length > 1 ? { SubjectAlternativeNames: list } : {}),
    }),
  );
  return describeCertificate(aws, made.CertificateArn as string);
}

export async function describeCertificate(aws: AwsClients, arn: string): Promise<AwsCertificate> {
  const cert = (await aws.acm.send(new DescribeCertificateCommand({ CertificateArn: arn }))).Certificate;
  // ACM fills in a name's record a few seconds after the request: until then it has none
  const records = (cert?.DomainValidationOptions ?? []).flatMap((o) => {
    const r = o.ResourceRecord;
    return r === undefined ? [] : [{ domain: o.DomainName ?? '', name: r.Name ?? '', type: r.Type ?? 'CNAME', value: r.Value ?? '' }];
  });
  return { arn, status: cert?.Status ?? 'UNKNOWN', records, ...(cert?.FailureReason === undefined ? {} : { reason: cert.FailureReason }) };
}

/** Delete a certificate; false while CloudFront still uses it (ACM answers ResourceInUseException until the distribution released it). */
export async function deleteCertificate(aws: AwsClients, arn: string): Promise<boolean> {
  try {
    await aws.acm.send(new DeleteCertificateCommand({ CertificateArn: arn }));
    return true;
  } catch (err) {
    const name = (err as Error).name;
    if (name === 'ResourceNotFoundException') return true;
    if (name === 'ResourceInUseException') return false;
    throw err;
  }
}

/**
 * Second half, once ACM issued the certificate: the domain joins the distribution's aliases,
 * served with that certificate (SNI), in one UpdateDistribution with If-Match.
 */
export async function addDistributionDomain(aws: AwsClients, distributionId: string, domain: string, certificateArn: string): Promise<void> {
  const current = await aws.cloudfront.send(new GetDistributionConfigCommand({ Id: distributionId }));
  const names = new Set(current.DistributionConfig?.Aliases?.Items ?? []);
  names.add(domain);
  await setDistributionDomains(aws, distributionId, { add: [...names], remove: [] }, certificateArn);
}

/**
 * The distribution's custom names and its one certificate, in one UpdateDistribution with the
 * ETag just read as If-Match (a change made meanwhile is never overwritten: AWS then answers
 * PreconditionFailed and the next check tries again). Aliases that Slipway did not add stay.
 * `certificateArn` null: no custom name is left, back to CloudFront's own certificate.
 * Unchanged: no update at all (each one takes CloudFront minutes to deploy).
 */
export async function setDistributionDomains(
  aws: AwsClients,
  distributionId: string,
  change: { add: readonly string[]; remove: readonly string[] },
  certificateArn: string | null,
): Promise<{ changed: boolean }> {
  const current = await aws.cloudfront.send(new GetDistributionConfigCommand({ Id: distributionId }));
  const config = current.DistributionConfig;
  if (config === undefined) throw new Error(`distribution ${distributionId} has no config`);
  const before = [...(config.Aliases?.Items ?? [])].sort();
  const names = new Set(before.filter((n) => !change.remove.includes(n)));
  for (const n of change.add) names.add(n);
  const after = [...names].sort();
  const viewer = config.ViewerCertificate;
  const sameNames = after.length === before.length && after.every((n, i) => n === before[i]);
  const sameCertificate = certificateArn === null ? viewer?.ACMCertificateArn === undefined : viewer?.ACMCertificateArn === certificateArn;
  if (sameNames && sameCertificate) return { changed: false };
  config.Aliases = { Quantity: after.length, Items: after };
  config.ViewerCertificate =
    certificateArn === null
      ? { CloudFrontDefaultCertificate: true }
      : { ACMCertificateArn: certificateArn, SSLSupportMethod: 'sni-only', MinimumProtocolVersion: 'TLSv1.2_2021', CloudFrontDefaultCertificate: false };
  await aws.cloudfront.send(new UpdateDistributionCommand({ Id: distributionId, IfMatch: current.ETag, DistributionConfig: config }));
  return { changed: true };
}

/** The distribution's own host name (d123.cloudfront.net), which a custom domain is a CNAME to. */
export async function distributionDomainName(aws: AwsClients, distributionId: string): Promise<string> {
  const d = await aws.cloudfront.send(new GetDistributionCommand({ Id: distributionId }));
  return d.Distribution?.DomainName ?? '';
}
