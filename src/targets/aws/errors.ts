/**
 * AWS's answers turned into what a person can act on: the AWS error code and message, and a
 * hint for the codes people meet (credentials, permissions, throttling, conflicts).
 */
export interface AwsErrorDetail {
  code: string;
  message: string;
  hint: string;
}

const HINTS: Record<string, string> = {
  ExpiredTokenException: "The team's AWS credentials have expired: set new ones with slipway aws set, then retry the deployment.",
  ExpiredToken: "The team's AWS credentials have expired: set new ones with slipway aws set, then retry the deployment.",
  UnrecognizedClientException: 'AWS does not know this access key: check it with slipway aws check, or set another with slipway aws set.',
  InvalidClientTokenId: 'AWS does not know this access key: check it with slipway aws check, or set another with slipway aws set.',
  InvalidAccessKeyId: 'AWS does not know this access key: check it with slipway aws check, or set another with slipway aws set.',
  SignatureDoesNotMatch: 'The secret access key does not belong to this access key id: set the pair again with slipway aws set.',
  AccessDenied: 'The access lacks a permission: run slipway aws check to see which actions of docs/aws-iam-policy.json are missing.',
  AccessDeniedException: 'The access lacks a permission: run slipway aws check to see which actions of docs/aws-iam-policy.json are missing.',
  TooManyRequestsException: 'AWS throttled the requests even after retries: retry the deployment in a minute.',
  ThrottlingException: 'AWS throttled the requests even after retries: retry the deployment in a minute.',
  ResourceConflictException: 'Another update of the function was still in progress: retry the deployment; it resumes where it stopped.',
  PreconditionFailed: 'The CloudFront distribution was changed by someone else meanwhile: retry the deployment.',
};

export function awsErrorDetail(err: unknown, step: string): AwsErrorDetail {
  const e = (err instanceof Error ? err : new Error(String(err))) as Error & { Code?: string; $metadata?: unknown };
  const code = e.$metadata === undefined ? 'AWS_STEP_FAILED' : (e.Code ?? e.name);
  const hint = HINTS[code] ?? `The ${step} step failed on AWS; the live alias did not move. Fix the cause and retry the deployment: it resumes without redoing finished steps.`;
  return { code, message: e.message, hint };
}
