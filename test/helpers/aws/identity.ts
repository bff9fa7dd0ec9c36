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

export interface AcmState extends Service {
  certificates: Map<string, { domain: string; sans: string[]; status: 'PENDING_VALIDATION' | 'ISSUED'; region: string; created: Date }>;
  /** the DNS records were published: ACM issues the certificate */
  issue(arn: string): void;
}

export function createAcm(): AcmState {
  const certificates: AcmState['certificates'] = new Map();
  const record = (domain: string) => ({ Name: `_${domain.length.toString(16)}a1b2.${domain}.`, Type: 'CNAME', Value: `_c3d4${domain.length}.acm-validations.aws.` });
  const state: AcmState = {
    certificates,
    issue(arn) {
      const cert = certificates.get(arn);
      if (cert === undefined) throw new Error(`no certificate ${arn}`);
      cert.status = 'ISSUED';
    },
    handlers: {},
  };
  state.handlers = {
    RequestCertificate: (input, ctx) => {
      if (input.ValidationMethod !== 'DNS') throw new AwsError('InvalidParameterException', 'The stand-in issues certificates with DNS validation only', 400);
      const arn = `arn:aws:acm:${ctx.region}:${ACCOUNT_ID}:certificate/${awsId('', 12).toLowerCase()}`;
      certificates.set(arn, {
        domain: String(input.DomainName),
        sans: (input.SubjectAlternativeNames as string[] | undefined) ?? [],
        status: 'PENDING_VALIDATION',
        region: ctx.region,
        created: new Date(),
      });
      return { CertificateArn: arn };
    },
    DescribeCertificate: (input) => {
      const arn = String(input.CertificateArn);
      const cert = certificates.get(arn);
      if (cert === undefined) throw new AwsError('ResourceNotFoundException', `Could not find certificate ${arn}.`, 400);
      const names = [cert.domain, ...cert.sans.filter((s) => s !== cert.domain)];
      return {
        Certificate: {
          CertificateArn: arn,
          DomainName: cert.domain,
          SubjectAlternativeNames: names,
          Status: cert.status,
          Type: 'AMAZON_ISSUED',
          CreatedAt: cert.created,
          DomainValidationOptions: names.map((n) => ({
            DomainName: n,
            ValidationDomain: n,
            ValidationMethod: 'DNS',
            ValidationStatus: cert.status === 'ISSUED' ? 'SUCCESS' : 'PENDING_VALIDATION',
            ResourceRecord: record(n),
          })),
        },
      };
    },
  };
  return state;
}
