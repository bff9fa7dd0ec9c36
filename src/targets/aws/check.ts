import { SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { AwsAccess } from './access.js';
import { type AwsEndpoints, awsClients } from './clients.js';
import { awsErrorDetail } from './errors.js';
import { REQUIRED_ACTIONS } from './policy.js';

export interface AccessCheck {
  ok: boolean;
  /** who the access signs in as (an IAM user, or the assumed role's session) */
  identity: { account: string; arn: string } | null;
  /** actions of docs/aws-iam-policy.json the principal may not do */
  missing: string[];
  /** why the check could not finish (bad keys, role not assumable, simulation refused) */
  problem: { code: string; message: string; hint: string } | null;
}

/** The IAM principal a caller ARN stands for: an assumed-role session is simulated as its role. */
export function principalOf(callerArn: string): string {
  const session = /^arn:(aws[\w-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn);
  return session === null ? callerArn : `arn:${session[1]}:iam::${session[2]}:role/${session[3]}`;
}

/**
 * Verify a team's AWS access: who it is (STS GetCallerIdentity), then which of the documented
 * policy's actions its principal lacks (IAM SimulatePrincipalPolicy). Never throws for AWS's answers.
 */
export async function checkAwsAccess(access: AwsAccess, endpoints: AwsEndpoints = {}): Promise<AccessCheck> {
  const aws = awsClients(access, { ...endpoints, maxAttempts: endpoints.maxAttempts ?? 2 });
  try {
    let identity: AccessCheck['identity'];
    try {
      const me = await aws.sts.send(new GetCallerIdentityCommand({}));
      identity = { account: me.Account ?? '', arn: me.Arn ?? '' };
    } catch (err) {
      return { ok: false, identity: null, missing: [], problem: awsErrorDetail(err, 'check') };
    }
    try {
      const out = await aws.iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: principalOf(identity.arn), ActionNames: [...REQUIRED_ACTIONS] }));
      const missing = (out.EvaluationResults ?? []).filter((r) => r.EvalDecision !== 'allowed').map((r) => r.EvalActionName ?? '');
      return { ok: missing.length === 0, identity, missing, problem: null };
    } catch (err) {
      return { ok: false, identity, missing: [], problem: awsErrorDetail(err, 'check') };
    }
  } finally {
    aws.destroy();
  }
}
