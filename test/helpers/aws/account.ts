/** What every service of the stand-in shares: the account, its keys, and how a service answers "no". */
export const ACCOUNT_ID = '123456789012';

export class AwsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** Errors any AWS service can answer with (authentication and throttling live outside each model). */
export const COMMON_ERRORS = new Set([
  'ExpiredTokenException',
  'ExpiredToken',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'AccessDenied',
  'AccessDeniedException',
  'ThrottlingException',
  'Throttling',
  'ValidationException',
  'ValidationError',
]);

export interface AccessKey {
  secretAccessKey: string;
  sessionToken?: string;
  /** the principal the key signs as (a user, or an assumed role's session) */
  arn: string;
  expired?: boolean;
}

export interface CallContext {
  region: string;
  key: AccessKey;
}

export type Handler = (input: Record<string, unknown>, ctx: CallContext) => Record<string, unknown> | Promise<Record<string, unknown>>;

export interface Service {
  handlers: Record<string, Handler>;
}

let counter = 0;
/** Ids that look like AWS's own (upper-case letters and digits), unique within the process. */
export function awsId(prefix: string, length = 14): string {
  counter += 1;
  const tail = `${Date.now().toString(36)}${counter.toString(36)}`.toUpperCase();
  return `${prefix}${tail.padStart(length - prefix.length, '0').slice(-(length - prefix.length))}`;
}
