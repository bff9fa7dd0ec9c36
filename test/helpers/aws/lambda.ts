import { createHash } from 'node:crypto';
import { ACCOUNT_ID, AwsError, type CallContext, type Service } from './account.js';

/**
 * Lambda as an account keeps it: functions with their $LATEST code, numbered immutable versions,
 * aliases and Function URLs. A code update is "InProgress" for the next `updatePolls` reads of
 * the function, as on AWS, and meanwhile another update or a PublishVersion is a conflict.
 */
export interface FunctionVersion {
  version: string;
  codeSha256: string;
  description: string;
  zip: Buffer;
  /** a published version's environment variables ($LATEST: the function's) */
  environment?: Record<string, string>;
}

export interface LambdaFunction {
  name: string;
  role: string;
  handler: string;
  runtime: string;
  memorySize: number;
  timeout: number;
  environment: Record<string, string>;
  latest: FunctionVersion;
  pendingPolls: number;
  revision: number;
  versions: Map<string, FunctionVersion>;
  nextVersion: number;
  /** `routing`: AliasRoutingConfiguration's additional versions and their weights */
  aliases: Map<string, { version: string; description: string; revision: number; routing?: Record<string, number> }>;
  urls: Map<string, { url: string; authType: string; created: Date }>;
  permissions: string[];
}

// the keys Lambda sets itself and refuses in a configuration (AWS's list of reserved variables)
const RESERVED_KEYS = new Set(
  '_HANDLER _X_AMZN_TRACE_ID AWS_DEFAULT_REGION AWS_REGION AWS_EXECUTION_ENV AWS_LAMBDA_FUNCTION_NAME AWS_LAMBDA_FUNCTION_MEMORY_SIZE AWS_LAMBDA_FUNCTION_VERSION AWS_LAMBDA_INITIALIZATION_TYPE AWS_LAMBDA_LOG_GROUP_NAME AWS_LAMBDA_LOG_STREAM_NAME AWS_ACCESS_KEY AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_LAMBDA_RUNTIME_API LAMBDA_TASK_ROOT LAMBDA_RUNTIME_DIR'.split(
    ' ',
  ),
);

/** Refuse what Lambda refuses: reserved keys, and more than 4 KB (the JSON of the map; AWS quotes it back, values and all). */
function checkVariables(env: Record<string, string>): Record<string, string> {
  const reserved = Object.keys(env).filter((k) => RESERVED_KEYS.has(k));
  const prefix = 'Lambda was unable to configure your environment variables because the environment variables you have provided';
  if (reserved.length > 0)
    throw new AwsError(
      'InvalidParameterValueException',
      `${prefix} contains reserved keys that are currently not supported for modification. Reserved keys used in this request: ${reserved.join(', ')}`,
      400,
    );
  const measured = JSON.stringify(env);
  if (Buffer.byteLength(measured) > 4096) throw new AwsError('InvalidParameterValueException', `${prefix} exceeded the 4KB limit. String measured: ${measured}`, 400);
  return env;
}

export interface LambdaState extends Service {
  functions: Map<string, LambdaFunction>;
  /** how many reads of a function stay "InProgress" after a code update */
  updatePolls: number;
}

export function createLambda(): LambdaState {
  const functions = new Map<string, LambdaFunction>();
  const state: LambdaState = { functions, updatePolls: 1, handlers: {} };
  const arnOf = (ctx: CallContext, name: string, qualifier?: string) => `arn:aws:lambda:${ctx.region}:${ACCOUNT_ID}:function:${name}${qualifier === undefined ? '' : `:${qualifier}`}`;

  /** FunctionName may be a name, a partial or a full ARN, and may carry a qualifier. */
  const find = (raw: unknown, qualifierIn?: unknown): { fn: LambdaFunction; qualifier?: string } => {
    const parts = String(raw).split(':');
    const at = parts.indexOf('function');
    const name = at === -1 ? (parts[0] as string) : (parts[at + 1] as string);
    const qualifier = (qualifierIn as string | undefined) ?? (at === -1 ? parts[1] : parts[at + 2]);
    const fn = functions.get(name);
    if (fn === undefined) throw new AwsError('ResourceNotFoundException', `Function not found: ${arnOf({ region: 'us-east-1' } as CallContext, name)}`, 404);
    return qualifier === undefined ? { fn } : { fn, qualifier };
  };

  const statusRead = (fn: LambdaFunction): string => {
    if (fn.pendingPolls > 0) {
      fn.pendingPolls -= 1;
      return 'InProgress';
    }
    return 'Successful';
  };
  const mustBeIdle = (fn: LambdaFunction) => {
    if (fn.pendingPolls > 0) throw new AwsError('ResourceConflictException', `The operation cannot be performed at this time. An update is in progress for resource: ${fn.name}`, 409);
  };

  const configuration = (ctx: CallContext, fn: LambdaFunction, v: FunctionVersion, status: string) => ({
    FunctionName: fn.name,
    FunctionArn: arnOf(ctx, fn.name, v.version === '$LATEST' ? undefined : v.version),
    Runtime: fn.runtime,
    Role: fn.role,
    Handler: fn.handler,
    CodeSize: v.zip.length,
    Description: v.description,
    Timeout: fn.timeout,
    MemorySize: fn.memorySize,
    LastModified: new Date().toISOString().replace('Z', '+0000'),
    CodeSha256: v.codeSha256,
    Version: v.version,
    Environment: { Variables: v.environment ?? fn.environment },
    RevisionId: `rev-${fn.revision}`,
    State: 'Active',
    LastUpdateStatus: status,
    PackageType: 'Zip',
    Architectures: ['x86_64'],
  });
  const version = (fn: LambdaFunction, qualifier: string | undefined): FunctionVersion => {
    if (qualifier === undefined || qualifier === '$LATEST') return fn.latest;
    const alias = fn.aliases.get(qualifier);
    const found = fn.versions.get(alias?.version ?? qualifier);
    if (found === undefined) throw new AwsError('ResourceNotFoundException', `Function not found: ${fn.name}:${qualifier}`, 404);
    return found;
  };
  const aliasOut = (ctx: CallContext, fn: LambdaFunction, name: string) => {
    const a = fn.aliases.get(name);
    if (a === undefined) throw new AwsError('ResourceNotFoundException', `Alias not found: ${arnOf(ctx, fn.name, name)}`, 404);
    return {
      AliasArn: arnOf(ctx, fn.name, name),
      Name: name,
      FunctionVersion: a.version,
      Description: a.description,
      RevisionId: `alias-rev-${a.revision}`,
      ...(a.routing === undefined ? {} : { RoutingConfig: { AdditionalVersionWeights: a.routing } }),
    };
  };
  /** RoutingConfig's additional versions: each must exist; an empty map takes the routing away */
  const routingOf = (fn: LambdaFunction, input: Record<string, unknown>): Record<string, number> | undefined => {
    const weights = (input.RoutingConfig as { AdditionalVersionWeights?: Record<string, number> } | undefined)?.AdditionalVersionWeights;
    if (weights === undefined || Object.keys(weights).length === 0) return undefined;
    for (const v of Object.keys(weights)) version(fn, v);
    return { ...weights };
  };
  const aliasUses = (fn: LambdaFunction, v: string) => [...fn.aliases.values()].some((a) => a.version === v || (a.routing !== undefined && v in a.routing));
  const zipOf = (input: Record<string, unknown>): Buffer => {
    if (!Buffer.isBuffer(input.ZipFile)) throw new AwsError('InvalidParameterValueException', 'The stand-in takes function code as ZipFile only', 400);
    if (input.ZipFile.readUInt32LE(0) !== 0x04034b50) throw new AwsError('InvalidParameterValueException', 'Could not unzip uploaded file. Please check your file, then try to upload again.', 400);
    return input.ZipFile;
  };
  const sha = (zip: Buffer) => createHash('sha256').update(zip).digest('base64');

  state.handlers = {
    CreateFunction: (input, ctx) => {
      const name = String(input.FunctionName);
      if (functions.has(name)) throw new AwsError('ResourceConflictException', `Function already exist: ${name}`, 409);
      const zip = zipOf(input.Code as Record<string, unknown>);
      const env = checkVariables((input.Environment as { Variables?: Record<string, string> } | undefined)?.Variables ?? {});
      const fn: LambdaFunction = {
        name,
        role: String(input.Role),
        handler: String(input.Handler ?? 'index.handler'),
        runtime: String(input.Runtime ?? 'nodejs20.x'),
        memorySize: Number(input.MemorySize ?? 128),
        timeout: Number(input.Timeout ?? 3),
        environment: env,
        latest: { version: '$LATEST', codeSha256: sha(zip), description: String(input.Description ?? ''), zip },
        pendingPolls: 0,
        revision: 1,
        versions: new Map(),
        nextVersion: 1,
        aliases: new Map(),
        urls: new Map(),
        permissions: [],
      };
      functions.set(name, fn);
      return configuration(ctx, fn, fn.latest, 'Successful');
    },
    GetFunction: (input, ctx) => {
      const { fn, qualifier } = find(input.FunctionName, input.Qualifier);
      return { Configuration: configuration(ctx, fn, version(fn, qualifier), statusRead(fn)), Code: { RepositoryType: 'S3', Location: `https://stand-in.invalid/${fn.name}` } };
    },
    GetFunctionConfiguration: (input, ctx) => {
      const { fn, qualifier } = find(input.FunctionName, input.Qualifier);
      return configuration(ctx, fn, version(fn, qualifier), statusRead(fn));
    },
    UpdateFunctionCode: (input, ctx) => {
      const { fn } = find(input.FunctionName);
      mustBeIdle(fn);
      const zip = zipOf(input);
      fn.latest = { ...fn.latest, zip, codeSha256: sha(zip) };
      fn.revision += 1;
      fn.pendingPolls = state.updatePolls;
      return configuration(ctx, fn, fn.latest, 'InProgress');
    },
    UpdateFunctionConfiguration: (input, ctx) => {
      const { fn } = find(input.FunctionName);
      mustBeIdle(fn);
      const env = (input.Environment as { Variables?: Record<string, string> } | undefined)?.Variables;
      if (env !== undefined) fn.environment = { ...checkVariables(env) };
      fn.revision += 1;
      fn.pendingPolls = state.updatePolls;
      return configuration(ctx, fn, fn.latest, 'InProgress');
    },
    PublishVersion: (input, ctx) => {
      const { fn } = find(input.FunctionName);
      mustBeIdle(fn);
      if (input.CodeSha256 !== undefined && input.CodeSha256 !== fn.latest.codeSha256) throw new AwsError('InvalidParameterValueException', 'CodeSha256 does not match the $LATEST code', 400);
      // AWS publishes nothing new when $LATEST equals the last version: it answers that version
      const last = fn.versions.get(String(fn.nextVersion - 1));
      const sameEnv = JSON.stringify(last?.environment) === JSON.stringify(fn.environment);
      if (last !== undefined && last.codeSha256 === fn.latest.codeSha256 && sameEnv) return configuration(ctx, fn, last, 'Successful');
      // a version keeps the configuration it was published with (its environment variables)
      const v: FunctionVersion = {
        version: String(fn.nextVersion),
        codeSha256: fn.latest.codeSha256,
        zip: fn.latest.zip,
        description: String(input.Description ?? ''),
        environment: { ...fn.environment },
      };
      fn.nextVersion += 1;
      fn.versions.set(v.version, v);
      return configuration(ctx, fn, v, 'Successful');
    },
    ListVersionsByFunction: (input, ctx) => {
      const { fn } = find(input.FunctionName);
      return { Versions: [fn.latest, ...fn.versions.values()].map((v) => configuration(ctx, fn, v, 'Successful')) };
    },
    DeleteFunction: (input) => {
      const { fn, qualifier } = find(input.FunctionName, input.Qualifier);
      if (qualifier === undefined) functions.delete(fn.name);
      else {
        if (!fn.versions.has(qualifier)) throw new AwsError('ResourceNotFoundException', `Function not found: ${fn.name}:${qualifier}`, 404);
        if (aliasUses(fn, qualifier)) throw new AwsError('ResourceConflictException', `Version ${qualifier} is used by an alias`, 409);
        fn.versions.delete(qualifier);
      }
      return {};
    },
    CreateAlias: (input, ctx) => {
      const { fn } = find(input.FunctionName);
      const name = String(input.Name);
      if (fn.aliases.has(name)) throw new AwsError('ResourceConflictException', `Alias already exists: ${arnOf(ctx, fn.name, name)}`, 409);
      version(fn, String(input.FunctionVersion));
      const routing = routingOf(fn, input);
      fn.aliases.set(name, { version: String(input.FunctionVersion), description: String(input.Description ?? ''), revision: 1, ...(routing === undefined ? {} : { routing }) });
      return aliasOut(ctx, fn, name);
    },
    GetAlias: (input, ctx) => aliasOut(ctx, find(input.FunctionName).fn, String(input.Name)),
    UpdateAlias: (input, ctx) => {
      const { fn } = find(input.FunctionName);
      const name = String(input.Name);
      const alias = fn.aliases.get(name);
      if (alias === undefined) throw new AwsError('ResourceNotFoundException', `Alias not found: ${arnOf(ctx, fn.name, name)}`, 404);
      if (input.RevisionId !== undefined && input.RevisionId !== `alias-rev-${alias.revision}`)
        throw new AwsError('PreconditionFailedException', 'The RevisionId provided does not match the latest RevisionId for the Lambda function or alias.', 412);
      if (input.FunctionVersion !== undefined) {
        version(fn, String(input.FunctionVersion));
        alias.version = String(input.FunctionVersion);
      }
      if (input.Description !== undefined) alias.description = String(input.Description);
      if (input.RoutingConfig !== undefined) {
        const routing = routingOf(fn, input);
        if (routing === undefined) delete alias.routing;
        else alias.routing = routing;
      }
      alias.revision += 1;
      return aliasOut(ctx, fn, name);
    },
    ListAliases: (input, ctx) => {
      const { fn } = find(input.FunctionName);
      const names = [...fn.aliases.keys()].filter((n) => input.FunctionVersion === undefined || fn.aliases.get(n)?.version === input.FunctionVersion).sort();
      // paged as AWS does, so a caller that ignores NextMarker misses aliases
      const start = input.Marker === undefined ? 0 : Number(input.Marker);
      const size = Math.min(Number(input.MaxItems ?? 50), 50);
      const page = names.slice(start, start + size).map((n) => aliasOut(ctx, fn, n));
      return { Aliases: page, ...(start + size < names.length ? { NextMarker: String(start + size) } : {}) };
    },
    DeleteAlias: (input) => {
      const { fn } = find(input.FunctionName);
      const name = String(input.Name);
      if (!fn.aliases.delete(name)) throw new AwsError('ResourceNotFoundException', `Alias not found: ${fn.name}:${name}`, 404);
      return {};
    },
    DeleteFunctionUrlConfig: (input) => {
      const { fn, qualifier } = find(input.FunctionName, input.Qualifier);
      if (!fn.urls.delete(qualifier ?? '$LATEST')) throw new AwsError('ResourceNotFoundException', 'The resource you requested does not exist.', 404);
      return {};
    },
    RemovePermission: (input) => {
      const { fn } = find(input.FunctionName, input.Qualifier);
      const id = String(input.StatementId);
      if (!fn.permissions.includes(id)) throw new AwsError('ResourceNotFoundException', `No policy is associated with the given resource.`, 404);
      fn.permissions = fn.permissions.filter((p) => p !== id);
      return {};
    },
    CreateFunctionUrlConfig: (input, ctx) => {
      const { fn, qualifier } = find(input.FunctionName, input.Qualifier);
      const key = qualifier ?? '$LATEST';
      if (qualifier !== undefined && !fn.aliases.has(qualifier)) throw new AwsError('ResourceNotFoundException', `Alias not found: ${qualifier}`, 404);
      if (fn.urls.has(key))
        throw new AwsError(
          'ResourceConflictException',
          `Failed to create function url config for [functionArn = ${arnOf(ctx, fn.name, qualifier)}]. Error message:  FunctionUrlConfig exists for this Lambda function`,
          409,
        );
      const url = {
        url: `https://${createHash('sha1').update(`${fn.name}:${key}`).digest('hex').slice(0, 32)}.lambda-url.${ctx.region}.on.aws/`,
        authType: String(input.AuthType),
        created: new Date(),
      };
      fn.urls.set(key, url);
      return { FunctionUrl: url.url, FunctionArn: arnOf(ctx, fn.name, qualifier), AuthType: url.authType, CreationTime: url.created.toISOString(), InvokeMode: 'BUFFERED' };
    },
    GetFunctionUrlConfig: (input, ctx) => {
      const { fn, qualifier } = find(input.FunctionName, input.Qualifier);
      const url = fn.urls.get(qualifier ?? '$LATEST');
      if (url === undefined) throw new AwsError('ResourceNotFoundException', 'The resource you requested does not exist.', 404);
      const iso = url.created.toISOString();
      return { FunctionUrl: url.url, FunctionArn: arnOf(ctx, fn.name, qualifier), AuthType: url.authType, CreationTime: iso, LastModifiedTime: iso, InvokeMode: 'BUFFERED' };
    },
    AddPermission: (input) => {
      const { fn } = find(input.FunctionName, input.Qualifier);
      const id = String(input.StatementId);
      if (fn.permissions.includes(id))
        throw new AwsError('ResourceConflictException', `The statement id (${id}) provided already exists. Please provide a new statement id, or remove the existing statement.`, 409);
      fn.permissions.push(id);
      return { Statement: JSON.stringify({ Sid: id, Action: input.Action, Principal: input.Principal }) };
    },
  };
  return state;
}
