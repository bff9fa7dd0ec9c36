import { AppError } from '../../errors/index.js';

/**
 * Names Lambda sets in every function's environment and refuses to take from a configuration
 * (AWS answers InvalidParameterValueException, after the build, naming the key). Checked here so
 * the deployment fails before anything is published, with a hint of what to do instead.
 */
const LAMBDA_RESERVED = new Set([
  '_HANDLER',
  '_X_AMZN_TRACE_ID',
  'AWS_DEFAULT_REGION',
  'AWS_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
]);
/** every AWS_LAMBDA_* is Lambda's (function name, memory, version, log group, runtime API) except the documented wrapper hook */
const LAMBDA_PREFIX = 'AWS_LAMBDA_';
const LAMBDA_SETTABLE = new Set(['AWS_LAMBDA_EXEC_WRAPPER']);
/** the names OpenNext's server reads its incremental cache's place from: Slipway sets them per deployment */
const OPENNEXT_PREFIX = 'CACHE_BUCKET_';

/** Lambda's limit on one function's variables, measured as AWS does: the JSON of the whole map, in bytes. */
export const LAMBDA_ENV_LIMIT_BYTES = 4096;

export function reservedOnLambda(key: string): 'lambda' | 'opennext' | undefined {
  if (LAMBDA_RESERVED.has(key) || (key.startsWith(LAMBDA_PREFIX) && !LAMBDA_SETTABLE.has(key))) return 'lambda';
  if (key.startsWith(OPENNEXT_PREFIX)) return 'opennext';
  return undefined;
}

/**
 * The server function's variables for one deployment: the project's runtime variables of its
 * environment (what an SSR server of the same deployment gets on Slipway's edge) with OpenNext's
 * own on top. Throws AWS_ENV_RESERVED for a name Lambda or OpenNext owns, AWS_ENV_TOO_LARGE past
 * Lambda's 4 KB (naming the biggest variables; values never appear in either message).
 * `serverEnvironment({ API_URL: 'https://…' }, openNextEnvironment('server', …))`
 */
export function serverEnvironment(user: Readonly<Record<string, string>>, own: Readonly<Record<string, string>>): Record<string, string> {
  const reserved = Object.keys(user)
    .filter((k) => reservedOnLambda(k) !== undefined || Object.hasOwn(own, k))
    .sort();
  if (reserved.length > 0) {
    const owners = reserved.map((k) => `${k} (${reservedOnLambda(k) === 'lambda' ? 'set by Lambda' : 'set by Slipway for OpenNext'})`);
    throw new AppError('AWS_ENV_RESERVED', `The project's variable${reserved.length === 1 ? '' : 's'} ${owners.join(', ')} cannot be set on AWS Lambda.`, {
      hint: `Rename ${reserved.length === 1 ? 'it' : 'them'} (slipway env), e.g. APP_${reserved[0]}, and read that name in the app; Lambda sets AWS_REGION, AWS_LAMBDA_* and the credentials itself.`,
    });
  }
  const merged = { ...user, ...own };
  const bytes = Buffer.byteLength(JSON.stringify(merged));
  if (bytes > LAMBDA_ENV_LIMIT_BYTES) {
    const sizes = Object.entries(user)
      .map(([k, v]) => ({ k, size: Buffer.byteLength(JSON.stringify({ [k]: v })) - 2 }))
      .sort((a, b) => b.size - a.size || (a.k < b.k ? -1 : 1))
      .slice(0, 3);
    throw new AppError(
      'AWS_ENV_TOO_LARGE',
      `The server function's variables take ${bytes} bytes, over Lambda's limit of ${LAMBDA_ENV_LIMIT_BYTES} (the biggest: ${sizes.map((s) => `${s.k} ${s.size} bytes`).join(', ')}).`,
      { hint: 'Shorten or remove the biggest (slipway env), or keep large values in a secret store (SSM, Secrets Manager) and put their name in a variable; then deploy again.' },
    );
  }
  return merged;
}

/** `text` with every value of `env` (of 4 characters or more) replaced: AWS's messages may quote the variables they refused. */
export function maskValues(text: string, env: Readonly<Record<string, string>>): string {
  let out = text;
  const values = Object.values(env)
    .filter((v) => v.length >= 4)
    .sort((a, b) => b.length - a.length);
  for (const v of values) out = out.split(v).join('********');
  return out;
}
