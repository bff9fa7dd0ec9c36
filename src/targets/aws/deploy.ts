import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CreateOriginAccessControlCommand } from '@aws-sdk/client-cloudfront';
import { CreateBucketCommand, PutBucketPolicyCommand } from '@aws-sdk/client-s3';
import { AppError } from '../../errors/index.js';
import type { ImmutableRule } from '../../manifest/index.js';
import type { Db } from '../../store/index.js';
import { deploymentRoot, sharedFolders, uploadAssets } from './assets.js';
import type { AwsClients } from './clients.js';
import { createDistribution, invalidate, setAssetRoot } from './distribution.js';
import { maskValues, serverEnvironment } from './environment.js';
import { awsErrorDetail } from './errors.js';
import { codeIsAlready, createFunction, ensureFunctionUrl, pointAlias, publishCode, setEnvironment, type WaitSettings } from './functions.js';
import { openNextEnvironment, uploadOpenNextCache } from './opennext-runtime.js';
import { type AwsRecord, type AwsStep, readAwsRecord, saveAwsRecord } from './record.js';
import { type AwsResources, recordResources, type TargetSetting } from './target.js';

/**
 * What a build hands the AWS target: the static files, and for a server framework (Next.js via
 * OpenNext) the Lambda zips. `functions` is empty for a static site (then only S3 + CloudFront).
 */
export interface AwsBuildOutput {
  assetsDir: string;
  functions: { name: 'server' | 'image'; zipPath: string; handler: string }[];
  /** OpenNext's incremental cache folder (prerendered pages), uploaded below the deployment's root */
  cacheDir?: string | undefined;
  /** the framework's fingerprinted folders (src/frameworks/ rows) */
  immutable: readonly ImmutableRule[];
}

export interface AwsDeployInput {
  db: Db;
  aws: AwsClients;
  project: { id: string; name: string };
  deploymentId: string;
  setting: TargetSetting;
  output: AwsBuildOutput;
  /** the Lambda alias this deployment goes live on: 'live' for production, 'pr-<n>' or a branch slug for a preview; undefined: publish only */
  alias: string | undefined;
  /** the deployment production served before (its unchanged files are copied, not uploaded) */
  previousDeploymentId?: string;
  /** the deployment's runtime variables (its snapshot of the project's, as its edge server gets them): the server function's, never the image function's */
  environment?: Readonly<Record<string, string>>;
  wait?: WaitSettings;
  log: (line: string) => void;
}

export const LIVE_ALIAS = 'live';
const DEFAULT_WAIT: WaitSettings = { minDelaySeconds: 1, maxWaitSeconds: 300 };

const slug = (name: string) =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 30);

/**
 * Make a deployment live on AWS, step by step, each step recorded with its timing in the
 * deployment's AWS record. A step already done (a retry of the job) is skipped with what it
 * recorded, so nothing is created, uploaded or published twice. A failing step leaves the alias
 * where it was and throws AWS_DEPLOY_FAILED with AWS's code, message and a hint.
 */
export async function deployToAws(input: AwsDeployInput): Promise<AwsRecord> {
  const { db, aws, output, deploymentId, log } = input;
  const wait = input.wait ?? DEFAULT_WAIT;
  const userEnv = input.environment ?? {};
  // a reserved name or too many bytes fails here, before anything is made or published
  const functionEnv = (name: 'server' | 'image', bucket: string) => {
    const own = openNextEnvironment(name, bucket, aws.region, deploymentId);
    return name === 'server' ? serverEnvironment(userEnv, own) : own;
  };
  const base = `slipway-${slug(input.project.name)}`;
  // the bucket's name is in the server's variables: the check must count the name it will have
  const newBucket = input.setting.resources.bucket ?? `${base}-${randomBytes(4).toString('hex')}`;
  if (output.functions.some((f) => f.name === 'server')) functionEnv('server', newBucket);
  const record: AwsRecord = (await readAwsRecord(db, deploymentId)) ?? { steps: [] };
  delete record.error;
  const resources: AwsResources = { ...input.setting.resources };
  const remember = async (made: AwsResources) => {
    Object.assign(resources, made);
    await recordResources(db, input.project.id, input.setting.environment, made);
  };
  const zips = new Map<string, Buffer>();
  const zipOf = async (fn: AwsBuildOutput['functions'][number]) => {
    let zip = zips.get(fn.name);
    if (zip === undefined) zips.set(fn.name, (zip = await readFile(fn.zipPath)));
    return zip;
  };
  const freshFunctions = new Set<string>();

  const step = async (name: string, run: () => Promise<Record<string, unknown> | undefined>) => {
    const done = record.steps.find((s) => s.name === name && s.status === 'done');
    if (done !== undefined) {
      log(`AWS: ${name} was done by an earlier attempt; skipped`);
      return done.detail ?? {};
    }
    record.steps = record.steps.filter((s) => s.name !== name);
    const started = Date.now();
    const entry: AwsStep = { name, status: 'done', startedAt: new Date(started).toISOString(), ms: 0 };
    try {
      const detail = await run();
      entry.ms = Date.now() - started;
      if (detail !== undefined) entry.detail = detail;
      record.steps.push(entry);
      await saveAwsRecord(db, deploymentId, record);
      log(`AWS: ${name} done in ${entry.ms} ms`);
      return detail ?? {};
    } catch (err) {
      entry.ms = Date.now() - started;
      entry.status = 'failed';
      record.steps.push(entry);
      // AWS may quote what it refused (a variable's value): the record and the error never carry one
      const detail = awsErrorDetail(err, name);
      record.error = { ...detail, message: maskValues(detail.message, userEnv), step: name };
      await saveAwsRecord(db, deploymentId, record);
      throw new AppError('AWS_DEPLOY_FAILED', `AWS ${name} failed: ${record.error.code}: ${record.error.message}`, { hint: record.error.hint, cause: err });
    }
  };

  await step('resources', async () => {
    if (resources.bucket === undefined) {
      const bucket = newBucket;
      await aws.s3.send(new CreateBucketCommand({ Bucket: bucket, ...(aws.region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: aws.region as never } }) }));
      await remember({ bucket });
    }
    if (resources.originAccessControlId === undefined) {
      const oac = await aws.cloudfront.send(
        new CreateOriginAccessControlCommand({
          OriginAccessControlConfig: { Name: resources.bucket?.slice(0, 64), SigningProtocol: 'sigv4', SigningBehavior: 'always', OriginAccessControlOriginType: 's3' },
        }),
      );
      await remember({ originAccessControlId: oac.OriginAccessControl?.Id as string });
    }
    for (const fn of output.functions) {
      const key = fn.name === 'server' ? 'functionName' : 'imageFunctionName';
      if (resources[key] !== undefined) continue;
      if (resources.functionRoleArn === undefined) {
        throw new AppError('AWS_TARGET_INCOMPLETE', 'Slipway needs an execution role to create the Lambda functions.', {
          hint: 'Name one: slipway target set <project> aws --function-role arn:aws:iam::<account>:role/slipway-<name> (a role Lambda can assume, with AWSLambdaBasicExecutionRole).',
        });
      }
      const functionName = `${base}-${fn.name}`;
      const environment = functionEnv(fn.name, resources.bucket as string);
      await createFunction(
        aws.lambda,
        { functionName, roleArn: resources.functionRoleArn, handler: fn.handler, zip: await zipOf(fn), description: `Slipway ${input.project.name} ${fn.name}`, environment },
        wait,
      );
      freshFunctions.add(fn.name);
      await remember({ [key]: functionName });
    }
    return { bucket: resources.bucket, functions: output.functions.map((f) => f.name) };
  });
  const bucket = resources.bucket as string;

  const assetRoot = `/${deploymentRoot(deploymentId)}`;
  const upload = await step('upload', async () => {
    const r = await uploadAssets({
      s3: aws.s3,
      bucket,
      assetsDir: output.assetsDir,
      deploymentId,
      immutable: output.immutable,
      log,
      ...(input.previousDeploymentId === undefined ? {} : { previousDeploymentId: input.previousDeploymentId }),
    });
    record.assetRoot = assetRoot;
    record.mutablePaths = r.mutablePaths;
    if (output.cacheDir !== undefined) {
      const cached = await uploadOpenNextCache(aws.s3, bucket, output.cacheDir, deploymentId, log);
      log(`AWS: OpenNext's cache: ${cached.files} files (${cached.bytes} bytes)`);
    }
    log(`AWS: ${r.files} files: ${r.uploaded} uploaded (${r.uploadedBytes} bytes), ${r.copied} copied from the previous deployment, ${r.skipped} already there`);
    return { files: r.files, uploaded: r.uploaded, uploadedBytes: r.uploadedBytes, copied: r.copied, skipped: r.skipped };
  });
  void upload;

  for (const fn of output.functions) {
    await step(`publish-${fn.name}`, async () => {
      const functionName = (fn.name === 'server' ? resources.functionName : resources.imageFunctionName) as string;
      // a function made in this attempt has them already
      if (!freshFunctions.has(fn.name)) await setEnvironment(aws.lambda, functionName, functionEnv(fn.name, bucket), wait);
      const zip = await zipOf(fn);
      // the zips are reproducible: a function whose build did not change is not uploaded again
      const current = freshFunctions.has(fn.name) || (await codeIsAlready(aws.lambda, functionName, zip));
      const published = await publishCode(aws.lambda, { functionName, zip, description: `slipway deployment ${deploymentId}` }, wait, current);
      record.versions = { ...record.versions, [fn.name]: { functionName, ...published } };
      return { version: published.version };
    });
  }

  if (input.alias === undefined) return record;
  const alias = input.alias;
  await step('go-live', async () => {
    const moved: { functionName: string; previousVersion?: string }[] = [];
    try {
      let serverUrl: string | undefined;
      let imageUrl: string | undefined;
      for (const [name, v] of Object.entries(record.versions ?? {})) {
        const pointed = await pointAlias(aws.lambda, v.functionName, alias, v.version, `slipway deployment ${deploymentId}`);
        moved.push({ functionName: v.functionName, ...(pointed.previousVersion === undefined ? {} : { previousVersion: pointed.previousVersion }) });
        const url = await ensureFunctionUrl(aws.lambda, v.functionName, alias);
        if (name === 'server') {
          serverUrl = url;
          record.alias = { name: alias, arn: pointed.arn, url, ...(pointed.previousVersion === undefined ? {} : { previousVersion: pointed.previousVersion }) };
          if (alias === LIVE_ALIAS) await remember({ functionUrl: url, aliasArn: pointed.arn });
        } else imageUrl = url;
      }
      // a preview has its own alias and Function URL; only production moves the distribution
      if (alias !== LIVE_ALIAS) return { alias };
      if (resources.distributionId === undefined) {
        const plan = {
          callerReference: `slipway-${input.project.id}-${input.setting.environment || 'project'}`,
          comment: `Slipway ${input.project.name}`.slice(0, 128),
          bucket,
          region: aws.region,
          originAccessControlId: resources.originAccessControlId as string,
          assetRoot,
          sharedFolders: sharedFolders(output.immutable),
          ...(serverUrl === undefined ? {} : { serverUrl }),
          ...(imageUrl === undefined ? {} : { imageUrl }),
        };
        const made = await createDistribution(aws.cloudfront, plan);
        await remember({ distributionId: made.id, distributionDomain: made.domainName });
        await aws.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: readPolicy(bucket, made.arn) }));
        record.distribution = { id: made.id, domainName: made.domainName, status: made.status, etag: made.etag };
      } else {
        const set = await setAssetRoot(aws.cloudfront, resources.distributionId, assetRoot);
        record.distribution = { id: resources.distributionId, domainName: set.domainName, status: set.status, etag: set.etag };
      }
      return { alias, distributionId: resources.distributionId };
    } catch (err) {
      // the alias goes back where it was: a half-done switch would serve new code with old assets
      for (const m of moved) {
        if (m.previousVersion !== undefined) await pointAlias(aws.lambda, m.functionName, alias, m.previousVersion, 'restored by slipway after a failed go-live').catch(() => {});
      }
      throw err;
    }
  });

  if (alias === LIVE_ALIAS && resources.distributionId !== undefined) {
    const distributionId = resources.distributionId;
    await step('invalidate', async () => {
      const id = await invalidate(aws.cloudfront, distributionId, record.mutablePaths ?? [], `slipway-${deploymentId}`);
      if (record.distribution !== undefined && id !== undefined) record.distribution.invalidationId = id;
      return { paths: record.mutablePaths?.length ?? 0 };
    });
  }
  return record;
}

/** The bucket policy that lets only this distribution read the assets (Origin Access Control). */
function readPolicy(bucket: string, distributionArn: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'SlipwayCloudFrontReads',
        Effect: 'Allow',
        Principal: { Service: 'cloudfront.amazonaws.com' },
        Action: 's3:GetObject',
        Resource: `arn:aws:s3:::${bucket}/*`,
        Condition: { StringEquals: { 'AWS:SourceArn': distributionArn } },
      },
    ],
  });
}
