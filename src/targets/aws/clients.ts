import { ACMClient } from '@aws-sdk/client-acm';
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { IAMClient } from '@aws-sdk/client-iam';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { AwsAccess } from './access.js';

/**
 * Where the AWS APIs are: AWS itself by default; an operator may point them elsewhere
 * (a VPC endpoint, or the test suite's stand-in). `s3` is the S3 endpoint when it differs.
 */
export interface AwsEndpoints {
  api?: string;
  s3?: string;
  /** Slipway's own credentials, used to assume a team's role (default: the SDK's chain: env, profile, instance role) */
  baseCredentials?: AwsCredentialIdentity;
  /** SDK attempts per call (throttling and 5xx are retried with backoff); default 4 */
  maxAttempts?: number;
}

export interface AwsClients {
  region: string;
  s3: S3Client;
  lambda: LambdaClient;
  cloudfront: CloudFrontClient;
  acm: ACMClient;
  sts: STSClient;
  iam: IAMClient;
  destroy(): void;
}

/**
 * SDK clients acting as the team. A role is assumed once per set of clients, with the team's
 * external id, and assumed again when its session nears expiry.
 */
export function awsClients(access: AwsAccess, endpoints: AwsEndpoints = {}): AwsClients {
  const common = { maxAttempts: endpoints.maxAttempts ?? 4, ...(endpoints.api === undefined ? {} : { endpoint: endpoints.api }) };
  const credentials = access.kind === 'keys' ? { accessKeyId: access.accessKeyId, secretAccessKey: access.secretAccessKey } : assumeRole(access, endpoints, common);
  const s3 = new S3Client({
    region: access.region,
    credentials,
    maxAttempts: common.maxAttempts,
    // without this the SDK adds checksums some S3-compatible servers store as part of the object
    requestChecksumCalculation: 'WHEN_REQUIRED',
    ...(endpoints.s3 === undefined ? {} : { endpoint: endpoints.s3, forcePathStyle: true }),
  });
  const clients = {
    region: access.region,
    s3,
    lambda: new LambdaClient({ region: access.region, credentials, ...common }),
    // CloudFront and ACM certificates for it live in us-east-1 whatever the team's region
    cloudfront: new CloudFrontClient({ region: 'us-east-1', credentials, ...common }),
    acm: new ACMClient({ region: 'us-east-1', credentials, ...common }),
    sts: new STSClient({ region: access.region, credentials, ...common }),
    iam: new IAMClient({ region: 'us-east-1', credentials, ...common }),
  };
  return {
    ...clients,
    destroy() {
      for (const c of Object.values(clients)) if (typeof c === 'object') c.destroy();
    },
  };
}

function assumeRole(access: Extract<AwsAccess, { kind: 'role' }>, endpoints: AwsEndpoints, common: object): AwsCredentialIdentityProvider {
  const sts = new STSClient({ region: access.region, ...common, ...(endpoints.baseCredentials === undefined ? {} : { credentials: endpoints.baseCredentials }) });
  let current: AwsCredentialIdentity | undefined;
  return async () => {
    // a session with less than 5 minutes left is renewed before a step can run out of it
    if (current?.expiration !== undefined && current.expiration.getTime() - Date.now() > 5 * 60_000) return current;
    const out = await sts.send(
      new AssumeRoleCommand({ RoleArn: access.roleArn, RoleSessionName: 'slipway', DurationSeconds: 3600, ...(access.externalId === undefined ? {} : { ExternalId: access.externalId }) }),
    );
    const c = out.Credentials;
    if (c?.AccessKeyId === undefined || c.SecretAccessKey === undefined) throw new Error('STS AssumeRole answered no credentials');
    current = {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      ...(c.SessionToken === undefined ? {} : { sessionToken: c.SessionToken }),
      ...(c.Expiration === undefined ? {} : { expiration: c.Expiration }),
    };
    return current;
  };
}
