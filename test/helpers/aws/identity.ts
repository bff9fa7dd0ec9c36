import { randomBytes } from 'node:crypto';
import { type AccessKey, ACCOUNT_ID, AwsError, awsId, type Service } from './account.js';

/**
 * STS and IAM as far as Slipway uses them: who a key is, assuming a role (with its external id),
 * and simulating a principal's policy against a list of actions. ACM: certificates with DNS
 * validation records, issued when the test says the records were published.
 */
export interface IdentityState {
  keys: Map<string, AccessKey>;
  /** roles that can be assumed, with the external id their trust policy demands */
  roles: Map<string, { externalId?: string }>;
  /** actions each principal is denied; everything else is allowed */
  denied: Map<string, Set<string>>;
  sts: Service;
  iam: Service;
  /** told of every key STS hands out (S3 must accept them too) */
  onKey?: (accessKeyId: string, secretAccessKey: string) => void;
}

export function createIdentity(): IdentityState {
  const keys = new Map<string, AccessKey>();
  const roles = new Map<string, { externalId?: string }>();
  const denied = new Map<string, Set<string>>();
  const state: IdentityState = { keys, roles, denied, sts: { handlers: {} }, iam: { handlers: {} } };

  state.sts.handlers = {
    GetCallerIdentity: (_input, ctx) => ({ UserId: 'AIDASTANDIN', Account: ACCOUNT_ID, Arn: ctx.key.arn }),
    AssumeRole: (input) => {
      const arn = String(input.RoleArn);
      const role = roles.get(arn);
      if (role === undefined) throw new AwsError('AccessDenied', `User is not authorized to perform: sts:AssumeRole on resource: ${arn}`, 403);
      if (role.externalId !== undefined && role.externalId !== input.ExternalId) throw new AwsError('AccessDenied', `User is not authorized to perform: sts:AssumeRole on resource: ${arn}`, 403);
      const roleName = arn.split('/').pop() ?? 'role';
      const session = String(input.RoleSessionName);
      const sessionArn = `arn:aws:sts::${ACCOUNT_ID}:assumed-role/${roleName}/${session}`;
      const accessKeyId = awsId('ASIA', 20);
      const key: AccessKey = { secretAccessKey: randomBytes(20).toString('hex'), sessionToken: randomBytes(24).toString('base64'), arn: sessionArn };
      keys.set(accessKeyId, key);
      state.onKey?.(accessKeyId, key.secretAccessKey);
      const seconds = Number(input.DurationSeconds ?? 3600);
      return {
        Credentials: { AccessKeyId: accessKeyId, SecretAccessKey: key.secretAccessKey, SessionToken: key.sessionToken, Expiration: new Date(Date.now() + seconds * 1000) },
        AssumedRoleUser: { AssumedRoleId: `AROASTANDIN:${session}`, Arn: sessionArn },
      };
    },
  };

  state.iam.handlers = {
    SimulatePrincipalPolicy: (input) => {
      const principal = String(input.PolicySourceArn);
      // an assumed-role session is simulated as its role
      const role = /^arn:aws:sts::(\d+):assumed-role\/([^/]+)\//.exec(principal);
      const source = role === null ? principal : `arn:aws:iam::${role[1]}:role/${role[2]}`;
      const deny = denied.get(source) ?? new Set<string>();
      const results = (input.ActionNames as string[]).map((action) => ({ EvalActionName: action, EvalResourceName: '*', EvalDecision: deny.has(action) ? 'implicitDeny' : 'allowed' }));
      return { EvaluationResults: results, IsTruncated: false };
    },
  };
  return state;
}

type AcmStatus = 'PENDING_VALIDATION' | 'ISSUED' | 'FAILED' | 'VALIDATION_TIMED_OUT';

export interface AcmState extends Service {
  certificates: Map<string, { domain: string; sans: string[]; status: AcmStatus; reason?: string; region: string; created: Date; token?: string }>;
  /** the DNS records were published: ACM issues the certificate */
  issue(arn: string): void;
  /** ACM gave up on it (FAILED with a FailureReason, or VALIDATION_TIMED_OUT after 72 h) */
  fail(arn: string, status: 'FAILED' | 'VALIDATION_TIMED_OUT', reason?: string): void;
  /** the distributions using a certificate (CloudFront tells: a used one cannot be deleted) */
  usedBy: (arn: string) => string[];
}

/** Does a certificate name cover a host ("*.example.com" covers one label under example.com, not the apex)? */
export function certificateCovers(names: readonly string[], host: string): boolean {
  const dot = host.indexOf('.');
  return names.some((n) => n === host || (n.startsWith('*.') && dot > 0 && host.slice(dot + 1) === n.slice(2)));
}

export function createAcm(): AcmState {
  const certificates: AcmState['certificates'] = new Map();
  // ACM's record for a name depends on the name only (a wildcard shares its apex's), so it stays across certificates
  const record = (domain: string) => {
    const bare = domain.replace(/^\*\./, '');
    return { Name: `_${bare.length.toString(16)}a1b2.${bare}.`, Type: 'CNAME', Value: `_c3d4${bare.length}.acm-validations.aws.` };
  };
  const find = (arn: string) => {
    const cert = certificates.get(arn);
    if (cert === undefined) throw new AwsError('ResourceNotFoundException', `Could not find certificate ${arn}.`, 400);
    return cert;
  };
  const namesOf = (cert: { domain: string; sans: string[] }) => [cert.domain, ...cert.sans.filter((s) => s !== cert.domain)];
  const state: AcmState = {
    certificates,
    issue(arn) {
      const cert = certificates.get(arn);
      if (cert === undefined) throw new Error(`no certificate ${arn}`);
      cert.status = 'ISSUED';
    },
    fail(arn, status, reason) {
      const cert = certificates.get(arn);
      if (cert === undefined) throw new Error(`no certificate ${arn}`);
      cert.status = status;
      if (reason !== undefined) cert.reason = reason;
    },
    usedBy: () => [],
    handlers: {},
  };
  state.handlers = {
    RequestCertificate: (input, ctx) => {
      if (input.ValidationMethod !== 'DNS') throw new AwsError('InvalidParameterException', 'The stand-in issues certificates with DNS validation only', 400);
      const sans = (input.SubjectAlternativeNames as string[] | undefined) ?? [];
      // ACM's default quota: 10 names on a certificate
      if (new Set([String(input.DomainName), ...sans]).size > 10) throw new AwsError('LimitExceededException', 'A certificate can have at most 10 domain names.', 400);
      // the same token (within the hour, for the same names) is the same request: the same certificate
      const token = input.IdempotencyToken as string | undefined;
      for (const [arn, c] of certificates) {
        if (token !== undefined && c.token === token && c.domain === input.DomainName && c.region === ctx.region) return { CertificateArn: arn };
      }
      const arn = `arn:aws:acm:${ctx.region}:${ACCOUNT_ID}:certificate/${awsId('', 12).toLowerCase()}`;
      certificates.set(arn, {
        domain: String(input.DomainName),
        sans,
        status: 'PENDING_VALIDATION',
        region: ctx.region,
        created: new Date(),
        ...(token === undefined ? {} : { token }),
      });
      return { CertificateArn: arn };
    },
    DescribeCertificate: (input) => {
      const arn = String(input.CertificateArn);
      const cert = find(arn);
      const names = namesOf(cert);
      const validation = cert.status === 'ISSUED' ? 'SUCCESS' : cert.status === 'PENDING_VALIDATION' ? 'PENDING_VALIDATION' : 'FAILED';
      return {
        Certificate: {
          CertificateArn: arn,
          DomainName: cert.domain,
          SubjectAlternativeNames: names,
          Status: cert.status,
          Type: 'AMAZON_ISSUED',
          CreatedAt: cert.created,
          InUseBy: state.usedBy(arn).map((id) => `arn:aws:cloudfront::${ACCOUNT_ID}:distribution/${id}`),
          ...(cert.reason === undefined ? {} : { FailureReason: cert.reason }),
          DomainValidationOptions: names.map((n) => ({
            DomainName: n,
            ValidationDomain: n,
            ValidationMethod: 'DNS',
            ValidationStatus: validation,
            ResourceRecord: record(n),
          })),
        },
      };
    },
    DeleteCertificate: (input) => {
      const arn = String(input.CertificateArn);
      find(arn);
      if (state.usedBy(arn).length > 0) throw new AwsError('ResourceInUseException', `Certificate ${arn} is in use by ${state.usedBy(arn).join(', ')}.`, 400);
      certificates.delete(arn);
      return {};
    },
    ListCertificates: (input) => {
      const statuses = input.CertificateStatuses as string[] | undefined;
      const list = [...certificates].filter(([, c]) => statuses === undefined || statuses.includes(c.status));
      return {
        CertificateSummaryList: list.map(([arn, c]) => ({
          CertificateArn: arn,
          DomainName: c.domain,
          SubjectAlternativeNameSummaries: namesOf(c),
          Status: c.status,
          InUse: state.usedBy(arn).length > 0,
        })),
      };
    },
  };
  return state;
}
