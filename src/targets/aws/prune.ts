import { type CloudFrontClient, GetDistributionConfigCommand } from '@aws-sdk/client-cloudfront';
import {
  DeleteAliasCommand,
  DeleteFunctionCommand,
  DeleteFunctionUrlConfigCommand,
  GetAliasCommand,
  type LambdaClient,
  ListAliasesCommand,
  type ListAliasesCommandOutput,
  RemovePermissionCommand,
} from '@aws-sdk/client-lambda';
import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { SecretBox } from '../../secrets.js';
import type { Db } from '../../store/index.js';
import { readAwsAccess } from './access.js';
import { deploymentRoot } from './assets.js';
import { awsClients, type AwsEndpoints } from './clients.js';
import { LIVE_ALIAS } from './deploy.js';
import { ASSETS_ORIGIN } from './distribution.js';
import { awsErrorDetail } from './errors.js';
import { isNotFound } from './functions.js';
import { type AwsRecord, saveAwsRecord } from './record.js';
import type { AwsResources } from './target.js';

/**
 * The AWS side of retention. When Slipway removes a deployment that went to AWS, its Lambda
 * versions and its files under `deployments/<id>/` (OpenNext's `_cache/` is below it) are deleted
 * too, unless something still uses them:
 * - a version any alias of the function points at, as its version or as the additional version
 *   of a weighted alias, or one that a kept deployment's record names;
 * - the root of a deployment with such a version (the version's environment variables name its
 *   root, so the code reads those files), or the root a distribution serves.
 * Fingerprinted files live under the shared `assets/` prefix, never under a root: they stay.
 *
 * The list of what still waits is the store itself: a removed deployment's AWS record stays,
 * without `pruned`, until a run deletes everything; a failure (throttling, access denied, AWS
 * unreachable) is written into the record as `pruneError` and the next collection tries again.
 */
export interface AwsPruneDeps {
  db: Db;
  box: SecretBox;
  endpoints?: AwsEndpoints;
}

export interface AwsPruneOptions {
  dryRun: boolean;
  /** deployments the collector removes in this run (in a dry run not marked removed yet) */
  removing: ReadonlySet<string>;
  /** false once the collector lost its lease: stop deleting */
  stillHeld?: () => Promise<boolean>;
  warn: (line: string) => void;
}

/** What this run deleted on AWS (or, in a dry run, would delete). */
export interface AwsPruneReport {
  /** removed deployments whose AWS side is now gone completely */
  deployments: number;
  versions: { count: number; sample: string[] };
  objects: { count: number; bytes: number; sample: string[] };
  /** `<function>:<alias>`: preview aliases deleted because Slipway took the preview away */
  aliases: string[];
  /** removed deployments whose AWS side stays for now, and why (a later run tries again) */
  waiting: { id: string; reason: string }[];
}

/** what the record of a pruned deployment carries besides AwsRecord */
type PrunableRecord = AwsRecord & { pruned?: { at: number; versions: number; objects: number; bytes: number }; pruneError?: { at: number; code: string; message: string } };

interface Candidate {
  id: string;
  projectId: string;
  environment: string;
  record: PrunableRecord;
}

interface ProjectAws {
  name: string;
  teamId: string | null;
  candidates: Candidate[];
  functions: Set<string>;
  distributions: Set<string>;
  buckets: Map<string, string>;
}

const SAMPLE = 50;
/** the description pointAlias gives an alias (`slipway deployment <id>`): only such aliases are Slipway's to delete */
const SLIPWAY_ALIAS = /^slipway deployment (d[a-z0-9]+)$/;

export async function pruneAws(deps: AwsPruneDeps, opts: AwsPruneOptions): Promise<AwsPruneReport> {
  const report: AwsPruneReport = { deployments: 0, versions: { count: 0, sample: [] }, objects: { count: 0, bytes: 0, sample: [] }, aliases: [], waiting: [] };
  const { projects, keptVersions } = await readState(deps.db, opts.removing);
  for (const [projectId, project] of projects) {
    if (project.candidates.length === 0 && project.functions.size === 0) continue;
    const access =
      project.teamId === null
        ? undefined
        : await readAwsAccess({ db: deps.db }, deps.box, project.teamId).catch((err: unknown) => {
            opts.warn(`AWS: the AWS access of project ${project.name}'s team could not be read (${err instanceof Error ? err.message : String(err)})`);
            return undefined;
          });
    if (access === undefined) {
      for (const c of project.candidates) wait(report, c.id, "the project's team has no AWS access any more (slipway aws set)");
      continue;
    }
    const aws = awsClients(access, deps.endpoints);
    try {
      const used = new Set(keptVersions);
      for (const fn of project.functions) await readAliases(deps.db, aws.lambda, projectId, fn, used, opts, report);
      const servedRoots = project.candidates.length === 0 ? new Set<string>() : await distributionRoots(aws.cloudfront, project.distributions);
      for (const c of project.candidates) {
        if (opts.stillHeld !== undefined && !(await opts.stillHeld())) {
          opts.warn('AWS: the garbage collector lost its lease; pruning stopped (the next run goes on)');
          return report;
        }
        try {
          await pruneDeployment(deps.db, aws.lambda, aws.s3, c, project.buckets.get(c.environment) ?? project.buckets.get(''), used, servedRoots, opts, report);
        } catch (err) {
          const detail = awsErrorDetail(err, 'prune');
          wait(report, c.id, `AWS answered ${detail.code}: ${detail.message}`);
          opts.warn(`AWS: deployment ${c.id} could not be pruned (${detail.code}: ${detail.message}); the next collection tries again`);
          if (!opts.dryRun) await saveAwsRecord(deps.db, c.id, { ...c.record, pruneError: { at: Date.now(), code: detail.code, message: detail.message } } as PrunableRecord);
        }
      }
    } catch (err) {
      // listing aliases or reading a distribution failed: nothing of this project is deleted blind
      const detail = awsErrorDetail(err, 'prune');
      opts.warn(`AWS: project ${project.name} was not pruned (${detail.code}: ${detail.message}); the next collection tries again`);
      for (const c of project.candidates) wait(report, c.id, `AWS answered ${detail.code}: ${detail.message}`);
    } finally {
      aws.destroy();
    }
  }
  return report;
}

function wait(report: AwsPruneReport, id: string, reason: string): void {
  if (report.waiting.length < SAMPLE) report.waiting.push({ id, reason });
}

/**
 * Per project: the removed deployments whose AWS side waits, the functions and distributions its
 * targets name; and every `function:version` a deployment that stays records.
 */
async function readState(db: Db, removing: ReadonlySet<string>): Promise<{ projects: Map<string, ProjectAws>; keptVersions: Set<string> }> {
  const projects = new Map<string, ProjectAws>();
  const projectOf = (id: string, name: string, teamId: string | null) => {
    let p = projects.get(id);
    if (p === undefined) projects.set(id, (p = { name, teamId, candidates: [], functions: new Set(), distributions: new Set(), buckets: new Map() }));
    return p;
  };
  const targets = await db
    .selectFrom('deploy_targets')
    .innerJoin('projects', 'projects.id', 'deploy_targets.project_id')
    .select(['deploy_targets.project_id', 'deploy_targets.environment', 'deploy_targets.resources', 'projects.name', 'projects.team_id'])
    .execute();
  for (const t of targets) {
    const resources = JSON.parse(t.resources) as AwsResources;
    const p = projectOf(t.project_id, t.name, t.team_id);
    for (const fn of [resources.functionName, resources.imageFunctionName]) if (fn !== undefined) p.functions.add(fn);
    if (resources.distributionId !== undefined) p.distributions.add(resources.distributionId);
    if (resources.bucket !== undefined) p.buckets.set(t.environment, resources.bucket);
  }
  const keptVersions = new Set<string>();
  const rows = await db
    .selectFrom('aws_deployments')
    .innerJoin('deployments', 'deployments.id', 'aws_deployments.deployment_id')
    .innerJoin('projects', 'projects.id', 'deployments.project_id')
    .select(['deployments.id', 'deployments.status', 'deployments.project_id', 'deployments.environment', 'projects.name', 'projects.team_id', 'aws_deployments.record'])
    .orderBy('deployments.seq')
    .execute();
  for (const row of rows) {
    const record = JSON.parse(row.record) as PrunableRecord;
    const goes = row.status === 'removed' || removing.has(row.id);
    if (!goes) {
      for (const v of Object.values(record.versions ?? {})) keptVersions.add(`${v.functionName}:${v.version}`);
      continue;
    }
    if (record.pruned !== undefined) continue;
    const p = projectOf(row.project_id, row.name, row.team_id);
    p.candidates.push({ id: row.id, projectId: row.project_id, environment: row.environment, record });
    for (const v of Object.values(record.versions ?? {})) p.functions.add(v.functionName);
  }
  return { projects, keptVersions };
}

/**
 * Every alias of the function marks its versions used, except a preview alias Slipway took
 * away (pull request closed, branch deleted): that one is deleted with its Function URL, so the
 * closed preview stops answering and its version can go.
 */
async function readAliases(db: Db, lambda: LambdaClient, projectId: string, functionName: string, used: Set<string>, opts: AwsPruneOptions, report: AwsPruneReport): Promise<void> {
  let marker: string | undefined;
  do {
    let page: ListAliasesCommandOutput;
    try {
      page = await lambda.send(new ListAliasesCommand({ FunctionName: functionName, ...(marker === undefined ? {} : { Marker: marker }) }));
    } catch (err) {
      if (isNotFound(err)) return; // the function is gone, and its versions with it
      throw err;
    }
    for (const alias of page.Aliases ?? []) {
      const name = alias.Name;
      // an alias that changed meanwhile is not deleted, and what it pointed at stays used
      if (name !== undefined && (await previewTakenAway(db, projectId, name, alias.Description)) && (opts.dryRun || (await deleteAlias(lambda, functionName, name, alias.Description)))) {
        report.aliases.push(`${functionName}:${name}`);
        continue;
      }
      if (alias.FunctionVersion !== undefined) used.add(`${functionName}:${alias.FunctionVersion}`);
      for (const v of Object.keys(alias.RoutingConfig?.AdditionalVersionWeights ?? {})) used.add(`${functionName}:${v}`);
    }
    marker = page.NextMarker;
  } while (marker !== undefined);
}

/**
 * Whether a Lambda alias is a preview's that Slipway removed: made by Slipway for a deployment of
 * this project (its description), named as awsAliasFor names previews, with no Slipway alias of
 * that name now and a removal recorded after that deployment was made (a build that went live
 * on AWS just before Slipway moved its own alias is not taken for a removed one).
 */
async function previewTakenAway(db: Db, projectId: string, awsName: string, description: string | undefined): Promise<boolean> {
  const deploymentId = SLIPWAY_ALIAS.exec(description ?? '')?.[1];
  if (deploymentId === undefined || awsName === LIVE_ALIAS || awsName.startsWith('env-')) return false;
  const pr = /^pr-(\d+)$/.exec(awsName);
  const branch = /^br-(.+)$/.exec(awsName);
  if (pr === null && branch === null) return false;
  const name = pr === null ? `branch:${branch?.[1]}` : `pr:${pr[1]}`;
  const d = await db.selectFrom('deployments').select(['seq', 'project_id']).where('id', '=', deploymentId).executeTakeFirst();
  if (d === undefined || d.project_id !== projectId) return false;
  if ((await db.selectFrom('aliases').select('name').where('project_id', '=', projectId).where('name', '=', name).executeTakeFirst()) !== undefined) return false;
  const removed = await db.selectFrom('removed_aliases').select('removed_seq').where('project_id', '=', projectId).where('name', '=', name).executeTakeFirst();
  return removed !== undefined && Number(removed.removed_seq) >= Number(d.seq);
}

/**
 * The alias's Function URL, the permission that opened it to everyone (ensureFunctionUrl), then
 * the alias; false when it changed since it was listed (a new push to the preview moved it).
 * Lambda's DeleteAlias takes no revision to compare, so this second look narrows that race to
 * the moment between two calls instead of closing it.
 */
async function deleteAlias(lambda: LambdaClient, functionName: string, alias: string, listedDescription: string | undefined): Promise<boolean> {
  const gone = (err: unknown) => {
    if (!isNotFound(err)) throw err;
  };
  const now = await lambda.send(new GetAliasCommand({ FunctionName: functionName, Name: alias })).catch((err: unknown) => gone(err));
  if (now === undefined) return true;
  if (now.Description !== listedDescription) return false;
  await lambda.send(new DeleteFunctionUrlConfigCommand({ FunctionName: functionName, Qualifier: alias })).catch(gone);
  await lambda.send(new RemovePermissionCommand({ FunctionName: functionName, Qualifier: alias, StatementId: `slipway-url-${alias}` })).catch(gone);
  await lambda.send(new DeleteAliasCommand({ FunctionName: functionName, Name: alias })).catch(gone);
  return true;
}

/** The asset roots the distributions serve now (their assets origin's OriginPath, without the leading '/'). */
async function distributionRoots(cloudfront: CloudFrontClient, ids: ReadonlySet<string>): Promise<Set<string>> {
  const roots = new Set<string>();
  for (const id of ids) {
    const config = await cloudfront.send(new GetDistributionConfigCommand({ Id: id }));
    const path = config.DistributionConfig?.Origins?.Items?.find((o) => o.Id === ASSETS_ORIGIN)?.OriginPath;
    if (path !== undefined && path !== '') roots.add(path.replace(/^\/+/, ''));
  }
  return roots;
}

async function pruneDeployment(
  db: Db,
  lambda: LambdaClient,
  s3: S3Client,
  c: Candidate,
  bucket: string | undefined,
  used: ReadonlySet<string>,
  servedRoots: ReadonlySet<string>,
  opts: AwsPruneOptions,
  report: AwsPruneReport,
): Promise<void> {
  const versions = Object.values(c.record.versions ?? {});
  const inUse = versions.find((v) => used.has(`${v.functionName}:${v.version}`));
  if (inUse !== undefined) {
    wait(report, c.id, `Lambda version ${inUse.functionName}:${inUse.version} is still used by an alias or a kept deployment`);
    return;
  }
  const root = deploymentRoot(c.id);
  if (servedRoots.has(root)) {
    wait(report, c.id, 'a CloudFront distribution still serves its files');
    return;
  }
  let deletedVersions = 0;
  for (const v of versions) {
    if (!opts.dryRun) {
      try {
        await lambda.send(new DeleteFunctionCommand({ FunctionName: v.functionName, Qualifier: v.version }));
      } catch (err) {
        if (!isNotFound(err)) throw err;
        continue; // deleted by an earlier run that failed later, or by hand
      }
    }
    deletedVersions++;
    report.versions.count++;
    if (report.versions.sample.length < SAMPLE) report.versions.sample.push(v.versionArn);
  }
  // the record names the bucket it was deployed to (the resources step), else the target's
  const recorded = c.record.steps.find((s) => s.name === 'resources')?.detail?.bucket;
  const inBucket = typeof recorded === 'string' ? recorded : bucket;
  const objects = inBucket === undefined ? { count: 0, bytes: 0 } : await deleteRoot(s3, inBucket, root, opts.dryRun, report);
  report.deployments++;
  if (!opts.dryRun) {
    const { pruneError: _, ...record } = c.record;
    await saveAwsRecord(db, c.id, { ...record, pruned: { at: Date.now(), versions: deletedVersions, objects: objects.count, bytes: objects.bytes } } as PrunableRecord);
  }
}

/** Every object under `<root>/` (the deployment's files and OpenNext's `_cache/`), a page of up to 1000 at a time. */
async function deleteRoot(s3: S3Client, bucket: string, root: string, dryRun: boolean, report: AwsPruneReport): Promise<{ count: number; bytes: number }> {
  let count = 0;
  let bytes = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${root}/`, ...(token === undefined ? {} : { ContinuationToken: token }) }));
    const items = (page.Contents ?? []).filter((o): o is { Key: string; Size?: number } => o.Key !== undefined);
    if (items.length > 0 && !dryRun) {
      const out = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: items.map((o) => ({ Key: o.Key })), Quiet: true } }));
      const failed = out.Errors?.[0];
      if (failed !== undefined) throw Object.assign(new Error(`S3 kept ${failed.Key}: ${failed.Message ?? ''}`), { name: failed.Code ?? 'DeleteObjectsFailed', $metadata: {} });
    }
    for (const o of items) {
      count++;
      bytes += o.Size ?? 0;
      if (report.objects.sample.length < SAMPLE) report.objects.sample.push(o.Key);
    }
    // a continuation token stays valid while its page's keys are deleted (S3 resumes after its last key)
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  report.objects.count += count;
  report.objects.bytes += bytes;
  return { count, bytes };
}
