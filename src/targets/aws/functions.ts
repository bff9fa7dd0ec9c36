import { createHash } from 'node:crypto';
import {
  AddPermissionCommand,
  CreateAliasCommand,
  CreateFunctionCommand,
  CreateFunctionUrlConfigCommand,
  GetAliasCommand,
  GetFunctionConfigurationCommand,
  GetFunctionUrlConfigCommand,
  type LambdaClient,
  PublishVersionCommand,
  ResourceConflictException,
  ResourceNotFoundException,
  UpdateAliasCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  waitUntilFunctionActiveV2,
  waitUntilFunctionUpdatedV2,
} from '@aws-sdk/client-lambda';

/** How long to wait for Lambda between polls (seconds; tests make it short) and in all. */
export interface WaitSettings {
  minDelaySeconds: number;
  maxWaitSeconds: number;
}

const notFound = (err: unknown) => err instanceof ResourceNotFoundException || (err as { name?: string }).name === 'ResourceNotFoundException';

/**
 * Run a Lambda change that AWS refuses while another update of the function is in progress
 * (ResourceConflictException): wait for the function to settle and try again, a few times.
 */
async function whenIdle<T>(lambda: LambdaClient, functionName: string, wait: WaitSettings, change: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await change();
    } catch (err) {
      const conflict = err instanceof ResourceConflictException || (err as { name?: string }).name === 'ResourceConflictException';
      if (!conflict || attempt >= 3) throw err;
      await waitUntilFunctionUpdatedV2({ client: lambda, minDelay: wait.minDelaySeconds, maxDelay: wait.minDelaySeconds * 8, maxWaitTime: wait.maxWaitSeconds }, { FunctionName: functionName });
    }
  }
}

export interface FunctionSpec {
  functionName: string;
  roleArn: string;
  handler: string;
  zip: Buffer;
  description: string;
  /** the function's environment variables (what OpenNext's handlers read at run time) */
  environment?: Record<string, string>;
}

/** Create the function with this code (and wait until it is active). */
export async function createFunction(lambda: LambdaClient, spec: FunctionSpec, wait: WaitSettings): Promise<void> {
  await lambda.send(
    new CreateFunctionCommand({
      FunctionName: spec.functionName,
      Role: spec.roleArn,
      Handler: spec.handler,
      Runtime: 'nodejs20.x',
      MemorySize: 1024,
      Timeout: 30,
      Architectures: ['arm64'],
      Code: { ZipFile: spec.zip },
      Description: 'Made by Slipway',
      ...(spec.environment === undefined ? {} : { Environment: { Variables: spec.environment } }),
    }),
  );
  await waitUntilFunctionActiveV2({ client: lambda, minDelay: wait.minDelaySeconds, maxDelay: wait.minDelaySeconds * 8, maxWaitTime: wait.maxWaitSeconds }, { FunctionName: spec.functionName });
}

/**
 * Put new code in the function, wait until Lambda finished the update (the SDK's waiter), and
 * publish a version of exactly that code, described with the deployment.
 */
export async function publishCode(
  lambda: LambdaClient,
  spec: Omit<FunctionSpec, 'roleArn' | 'handler'>,
  wait: WaitSettings,
  codeIsCurrent: boolean,
): Promise<{ version: string; versionArn: string; codeSha256: string }> {
  const waiter = { client: lambda, minDelay: wait.minDelaySeconds, maxDelay: wait.minDelaySeconds * 8, maxWaitTime: wait.maxWaitSeconds };
  let codeSha256: string | undefined;
  if (!codeIsCurrent) {
    const updated = await whenIdle(lambda, spec.functionName, wait, () => lambda.send(new UpdateFunctionCodeCommand({ FunctionName: spec.functionName, ZipFile: spec.zip })));
    codeSha256 = updated.CodeSha256;
  }
  await waitUntilFunctionUpdatedV2(waiter, { FunctionName: spec.functionName });
  // CodeSha256 makes Lambda refuse to publish if someone changed the code in between
  const published = await whenIdle(lambda, spec.functionName, wait, () =>
    lambda.send(new PublishVersionCommand({ FunctionName: spec.functionName, Description: spec.description, ...(codeSha256 === undefined ? {} : { CodeSha256: codeSha256 }) })),
  );
  if (published.Version === undefined || published.FunctionArn === undefined) throw new Error('Lambda PublishVersion answered no version');
  return { version: published.Version, versionArn: published.FunctionArn, codeSha256: published.CodeSha256 ?? '' };
}

/**
 * Set the function's environment variables (they name this deployment's asset prefix, so they
 * change with every deployment) and wait until Lambda applied them: the version published next
 * keeps them, so a rollback to it brings its own prefix back.
 */
export async function setEnvironment(lambda: LambdaClient, functionName: string, environment: Record<string, string>, wait: WaitSettings): Promise<void> {
  await whenIdle(lambda, functionName, wait, () => lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: functionName, Environment: { Variables: environment } })));
  await waitUntilFunctionUpdatedV2({ client: lambda, minDelay: wait.minDelaySeconds, maxDelay: wait.minDelaySeconds * 8, maxWaitTime: wait.maxWaitSeconds }, { FunctionName: functionName });
}

/** Whether the function's $LATEST code is these bytes already (Lambda's CodeSha256: base64 sha256 of the zip). */
export async function codeIsAlready(lambda: LambdaClient, functionName: string, zip: Buffer): Promise<boolean> {
  const current = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }));
  return current.CodeSha256 === createHash('sha256').update(zip).digest('base64');
}

/** Point an alias at a version (made on its first use). Returns its ARN and the version it had before. */
export async function pointAlias(lambda: LambdaClient, functionName: string, alias: string, version: string, description: string): Promise<{ arn: string; previousVersion?: string }> {
  let previous: string | undefined;
  try {
    previous = (await lambda.send(new GetAliasCommand({ FunctionName: functionName, Name: alias }))).FunctionVersion;
  } catch (err) {
    if (!notFound(err)) throw err;
    const made = await lambda.send(new CreateAliasCommand({ FunctionName: functionName, Name: alias, FunctionVersion: version, Description: description }));
    return { arn: made.AliasArn ?? '' };
  }
  const moved = await lambda.send(new UpdateAliasCommand({ FunctionName: functionName, Name: alias, FunctionVersion: version, Description: description }));
  return { arn: moved.AliasArn ?? '', ...(previous === undefined ? {} : { previousVersion: previous }) };
}

/**
 * The alias's Function URL (made on first use, callable by anyone: CloudFront is its client).
 * Returns the URL.
 */
export async function ensureFunctionUrl(lambda: LambdaClient, functionName: string, alias: string): Promise<string> {
  try {
    return (await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: functionName, Qualifier: alias }))).FunctionUrl ?? '';
  } catch (err) {
    if (!notFound(err)) throw err;
  }
  const made = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: functionName, Qualifier: alias, AuthType: 'NONE', InvokeMode: 'BUFFERED' }));
  await lambda.send(
    new AddPermissionCommand({ FunctionName: functionName, Qualifier: alias, StatementId: `slipway-url-${alias}`, Action: 'lambda:InvokeFunctionUrl', Principal: '*', FunctionUrlAuthType: 'NONE' }),
  );
  return made.FunctionUrl ?? '';
}

export { notFound as isNotFound };
