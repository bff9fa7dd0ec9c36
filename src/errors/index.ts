/**
 * One catalogue of error codes. Every error a person can see carries a code from here,
 * an HTTP status, a message and, where it helps, a hint of what to do.
 *
 * `who` says who must act: `user` errors (bad input, a failing build) are shown plainly
 * and never retried; `system` errors are logged with their stack and may be retried.
 */
export const ERRORS = {
  BAD_REQUEST: { status: 400, who: 'user', hint: 'Check the request body against the API reference in the README.' },
  INVALID_JSON: { status: 400, who: 'user', hint: 'Send a valid JSON body with Content-Type: application/json.' },
  VALIDATION: { status: 400, who: 'user', hint: 'Fix the named field and try again.' },
  UNAUTHORIZED: { status: 401, who: 'user', hint: 'Send Authorization: Bearer <token>; the admin token is in <data-dir>/admin-token.' },
  BAD_SIGNATURE: { status: 401, who: 'user', hint: 'Set the webhook secret in your git host to the webhookSecret returned when the project was created.' },
  FORBIDDEN: { status: 403, who: 'user', hint: 'Use a token that has access to this resource.' },
  LOGIN_FAILED: { status: 401, who: 'user', hint: 'Check the email and password; an account is made with "slipway users create" or an invitation link.' },
  CSRF: { status: 403, who: 'user', hint: "Send the session's csrfToken (from POST /api/v1/auth/login or GET /api/v1/me) as the X-CSRF-Token header." },
  RATE_LIMITED: { status: 429, who: 'user', hint: 'Wait for the time in the Retry-After header, then try again.' },
  TEAM_NOT_FOUND: { status: 404, who: 'user', hint: 'List your teams with GET /api/v1/teams (slipway teams).' },
  USER_NOT_FOUND: { status: 404, who: 'user', hint: 'The person needs an account first: slipway users create, or send them an invitation link.' },
  TOKEN_NOT_FOUND: { status: 404, who: 'user', hint: 'List your tokens with GET /api/v1/tokens (slipway tokens).' },
  INVITATION_NOT_FOUND: { status: 404, who: 'user', hint: 'The link is wrong, used or expired: ask for a new invitation.' },
  LAST_OWNER: { status: 409, who: 'user', hint: 'Make another member an owner first.' },
  NOT_FOUND: { status: 404, who: 'user', hint: 'Check the URL; list resources with GET /api/v1/projects.' },
  PROJECT_NOT_FOUND: { status: 404, who: 'user', hint: 'List projects with GET /api/v1/projects or create one with POST /api/v1/projects.' },
  DOMAIN_NOT_FOUND: { status: 404, who: 'user', hint: "List the project's domains with GET /api/v1/projects/<project>/domains (slipway domains ls <project>)." },
  DOMAIN_TAKEN: { status: 409, who: 'user', hint: 'A domain belongs to one project: remove it from the other project first.' },
  ENVIRONMENT_NOT_FOUND: { status: 404, who: 'user', hint: "List the project's environments with GET /api/v1/projects/<project>/environments (slipway env ls shows their variables)." },
  NOTIFICATION_NOT_FOUND: { status: 404, who: 'user', hint: 'List them with GET /api/v1/projects/<project>/notifications (slipway notifications ls).' },
  DEPLOYMENT_NOT_FOUND: { status: 404, who: 'user', hint: 'List deployments with GET /api/v1/projects/<project>/deployments.' },
  METHOD_NOT_ALLOWED: { status: 405, who: 'user', hint: 'Check the HTTP method in the API reference.' },
  CONFLICT: { status: 409, who: 'user', hint: 'Pick another name or update the existing resource.' },
  TEAM_NOT_EMPTY: { status: 409, who: 'user', hint: 'Delete or move its projects first.' },
  NOT_READY: { status: 409, who: 'user', hint: 'Only a ready deployment can be promoted; wait for its build or pick another.' },
  NO_PREVIOUS_DEPLOYMENT: { status: 409, who: 'user', hint: 'Pass {"deploymentId"} of a ready deployment to roll back to.' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, who: 'user', hint: 'Use a new Idempotency-Key for a different request; a key stands for one request (method, path and body) for 24 h.' },
  IDEMPOTENCY_KEY_IN_USE: { status: 409, who: 'user', hint: 'The first request with this Idempotency-Key is still running: retry in a moment to get its answer.' },
  PAYLOAD_TOO_LARGE: { status: 413, who: 'user', hint: 'Send a smaller body.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, who: 'user', hint: 'Send Content-Type: application/json.' },
  REF_NOT_FOUND: { status: 422, who: 'user', hint: 'Push the branch or commit first, or check the name.' },
  SOURCE_UNREACHABLE: { status: 422, who: 'user', hint: 'Check repoUrl and that the machine running Slipway can clone it (git ls-remote <repoUrl>).' },
  STALE_PUSH: {
    status: 409,
    who: 'user',
    hint: 'Nothing to do: the branch has moved on and its newest push is built. To deploy this commit anyway, POST /api/v1/projects/<project>/deployments with {"ref": "<sha>"}.',
  },
  BUILD_SKIPPED: {
    status: 409,
    who: 'user',
    hint: 'The project\'s ignoredBuildStep command said this commit needs no build. Change the command, or deploy the commit by hand: POST /api/v1/projects/<project>/deployments {"ref"}.',
  },
  BUILD_FAILED: { status: 422, who: 'user', hint: 'Read the build log; run the same install and build commands locally to reproduce.' },
  BUILD_LIMIT: {
    status: 422,
    who: 'user',
    hint: 'The build used more memory, processes or disk than its sandbox allows: make it use less, or ask the operator to raise --build-memory-mb, --build-pids or --build-disk-mb.',
  },
  BUILD_TIMEOUT: { status: 422, who: 'user', hint: 'Make the build faster or raise the project build timeout (buildTimeoutSeconds).' },
  SERVER_UNHEALTHY: { status: 422, who: 'user', hint: 'Run the built server locally (e.g. node .next/standalone/server.js) and fix what its output shows; the alias stays where it was.' },
  OUTPUT_NOT_FOUND: { status: 422, who: 'user', hint: 'Set outputDirectory on the project to the folder your build writes.' },
  FUNCTION_TOO_LARGE: {
    status: 422,
    who: 'user',
    hint: 'Lambda takes a function of at most 50 MB zipped and 250 MB unzipped: move large dependencies out of the server bundle (serverExternalPackages, smaller packages) or deploy this project to the edge.',
  },
  SITE_RULES: {
    status: 422,
    who: 'user',
    hint: 'Fix the named rule in vercel.json, _redirects or _headers (see "Redirects, rewrites and headers" in the README) and push again; production stays where it was.',
  },
  BLOB_MISMATCH: { status: 422, who: 'user', hint: 'The uploaded bytes do not hash to the name they were sent under: hash the file again (sha256, hex) and upload it once more.' },
  BLOBS_MISSING: { status: 422, who: 'user', hint: 'Upload the listed blobs first (PUT /api/v1/projects/<project>/blobs/<sha256>), then create the deployment again.' },
  DISK_FULL: {
    status: 507,
    who: 'user',
    hint: "The machine's disk (the data dir) is full: free space with `slipway gc` (see Retention in the README), lower the projects' retention, or give the data dir a larger disk; then deploy again.",
  },
  GC_RUNNING: { status: 409, who: 'user', hint: 'A garbage collection is running: send the same request again in a moment.' },
  AWS_NOT_CONFIGURED: { status: 409, who: 'user', hint: 'Give the team AWS access first: slipway aws set --region <region> (an access key pair or a role ARN).' },
  AWS_TARGET_INCOMPLETE: { status: 422, who: 'user', hint: 'Name the missing resource with slipway target set <project> aws (see docs/aws.md).' },
  AWS_ENV_RESERVED: { status: 422, who: 'user', hint: 'Rename the variable (slipway env): Lambda and OpenNext set the named ones themselves; then deploy again.' },
  AWS_ENV_TOO_LARGE: { status: 422, who: 'user', hint: 'Lambda takes at most 4 KB of variables per function: shorten the biggest or keep large values in a secret store; then deploy again.' },
  AWS_DOMAIN_UNSUPPORTED: { status: 422, who: 'user', hint: 'On AWS a custom domain serves production and is not a redirect; serve the others from the edge (see docs/aws.md, Custom domains).' },
  AWS_DOMAIN_FAILED: { status: 502, who: 'user', hint: "Read the AWS error code and message; nothing changed. Check the team's access with slipway aws check, then try again." },
  AWS_DEPLOY_FAILED: { status: 502, who: 'user', hint: 'Read the AWS error code and message; the live alias did not move. Retry the deployment once fixed: it resumes where it stopped.' },
  CONFIG: { status: 500, who: 'user', hint: 'Fix the named setting and start again.' },
  BLOBS_DAMAGED: { status: 500, who: 'system', hint: 'Restore the named blob files from a backup, or redeploy the deployments that use them.' },
  WORKER_LOST: { status: 500, who: 'system', hint: 'The build was retried on another claim; check the worker machine for crashes or OOM kills.' },
  INTERNAL: { status: 500, who: 'system', hint: undefined },
} as const satisfies Record<string, { status: number; who: 'user' | 'system'; hint: string | undefined }>;

export type ErrorCode = keyof typeof ERRORS;

/** An error with a catalogue code. `new AppError('PROJECT_NOT_FOUND', 'No project "blog".')` */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly who: 'user' | 'system';
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; hint?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.who = ERRORS[code].who;
    this.hint = options?.hint ?? ERRORS[code].hint;
  }

  toJSON(): { code: ErrorCode; message: string; hint?: string } {
    return this.hint === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, hint: this.hint };
  }
}

/** Normalise anything thrown into an Error (catch clauses get `unknown`). */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : JSON.stringify(value));
}

/** True when the user, not the platform, must act (no retry, no stack). */
export function isUserError(value: unknown): value is AppError {
  return value instanceof AppError && value.who === 'user';
}
