import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { packageOutput, packageServer } from '../artifact/index.js';
import { isBlobIntegrityError, type BlobStore, type FileBlobStore } from '../blobs/index.js';
import { createSharedBuildCache } from '../build/index.js';
import { createWorkspace, probeIsolation } from '../sandbox/index.js';
import type { Config } from '../config/index.js';
import { aliasTarget, getDeployment, moveAliasForward, movePreviewAliases, PRODUCTION, serverSettingsOf, type DeploymentServerSettings } from '../deployments/index.js';
import { goLivePlan } from '../environments/index.js';
import { AppError, isUserError, toError } from '../errors/index.js';
import type { Events } from '../events.js';
import { recordDeploymentEvent } from '../notify/index.js';
import { parseManifest, type Manifest } from '../manifest/index.js';
import { buildLimit, getProject, previewSettings } from '../projects/index.js';
import type { ClaimedJob, Queue } from '../queue/index.js';
import { NETLIFY_RULE_FILES, readSiteRules } from '../rules/index.js';
import type { Metrics } from '../metrics/index.js';
import type { SecretBox } from '../secrets.js';
import { fetchSource } from '../source/index.js';
import { buildForTarget, goLiveOnAws } from '../targets/aws/index.js';
import type { Deployment, Project, Store } from '../store/index.js';
import { asDiskFull, fenceAfterSweep, fenceHolds, readFence } from '../retention/index.js';
import { checkServer } from './check-server.js';
import { LIVE_WAIT_MS, recordLive, warmBeforeMove } from './go-live.js';
import { LogSink } from './log-sink.js';
import { recordStalePush, stalePushReason } from './stale-push.js';
import { logger } from '../log/index.js';

const jobLog = logger('worker');

export interface JobDeps {
  store: Store;
  queue: Queue;
  /** the directory store, or the bucket through the local blob cache (the server check runs from local files) */
  blobs: FileBlobStore;
  /** the bucket when --blob-url is set: build caches are shared through it with the other workers */
  sharedCacheBlobs?: BlobStore | undefined;
  config: Config;
  events: Events;
  /** decrypts the deployment's variables for its build and its server check */
  box: SecretBox;
  /** builds are counted here by outcome and duration (see src/metrics) */
  metrics?: Metrics | undefined;
}

type Phase = 'fetch' | 'build' | 'package' | 'deploy';

/** The package-manager caches (npm, corepack, pnpm, yarn) of one project's builds. */
export function packageCacheDir(dataDir: string, projectId: string): string {
  return join(dataDir, 'pm-cache', projectId);
}

/** Why a running build was stopped from outside; none of these is the build's own failure. */
export type StopReason = 'lease-lost' | 'shutdown' | 'canceled';

/**
 * Build one deployment: fetch the commit, install and build in the sandbox, package the output
 * into the blob store, then in one transaction mark it ready and move its aliases.
 */
export async function runJob(deps: JobDeps, job: ClaimedJob, signal: AbortSignal): Promise<void> {
  const { store, queue, config } = deps;
  const deployment = await getDeployment(store.db, job.deploymentId);
  const project = await getProject(store.db, deployment.project_id);
  if (deployment.status === 'canceled') {
    await store.tx((db) => queue.complete(db, job), { scope: project.id });
    return;
  }
  // the deployment's own copy of the project's variables: the build and the server check get
  // them, and every value is masked in the log before it is stored
  let settings: DeploymentServerSettings;
  try {
    settings = serverSettingsOf(deps.box, deployment);
  } catch (err) {
    const cause = new Error(`cannot decrypt the deployment's environment variables (was ${join(config.dataDir, 'secret.key')} replaced?)`, { cause: err });
    await recordFailure(deps, job, deployment, cause, 'fetch', new LogSink(store, deployment.id), false);
    return;
  }
  const logs = new LogSink(store, deployment.id, Object.values(settings.env));
  const startedAt = Date.now();
  await store.db
    .updateTable('deployments')
    .set({ status: 'building', started_at: deployment.started_at ?? startedAt, attempts: job.attempt, error_code: null, error_message: null, error_phase: null })
    .where('id', '=', deployment.id)
    .execute();
  // right after the change (not in a transaction with it): a crash between the two only loses this one 'building'
  await recordDeploymentEvent(store.db, 'deployment.building', deployment.id);
  deps.events.emit('deployment-changed', { deploymentId: deployment.id });
  if (job.attempt > 1) logs.line(`Retrying: attempt ${job.attempt} of ${job.maxAttempts} (the previous worker stopped before finishing).`);

  const workDir = join(config.dataDir, 'builds', `${deployment.id}-${job.attempt}`);
  const sourceDir = join(workDir, 'src');
  let phase: Phase = 'fetch';
  const timings: Record<string, number> = { queuedMs: startedAt - Number(deployment.created_at) };
  let workspace: { capped: boolean; release: () => Promise<void> } | undefined;
  try {
    await rm(workDir, { recursive: true, force: true });
    // the whole build folder (checkout, dependencies, output, TMPDIR) has a size the kernel enforces
    const diskMb = buildLimit(project.build_disk_mb, config.sandbox.buildDiskMb);
    const memoryMb = buildLimit(project.build_memory_mb, config.sandbox.buildMemoryMb);
    const pids = buildLimit(project.build_pids, config.sandbox.buildPids);
    const cpuShares = buildLimit(project.build_cpu_shares, config.sandbox.buildCpuShares);
    const asked = [
      ['buildMemoryMb', project.build_memory_mb, config.sandbox.buildMemoryMb, ' MiB'],
      ['buildDiskMb', project.build_disk_mb, config.sandbox.buildDiskMb, ' MiB'],
      ['buildPids', project.build_pids, config.sandbox.buildPids, ''],
      ['buildCpuShares', project.build_cpu_shares, config.sandbox.buildCpuShares, ''],
    ] as const;
    for (const [name, own, max, unit] of asked) {
      if (own !== null && max > 0 && own > max) logs.line(`Warning: the project's ${name} (${own}${unit}) is above this platform's maximum; using ${max}${unit}.`);
    }
    workspace = await createWorkspace(workDir, diskMb * 1024 * 1024, (await probeIsolation()).loop);
    await mkdir(sourceDir, { recursive: true });

    let t = Date.now();
    const stale = await stalePushReason(project.repo_url, deployment, signal);
    if (stale !== undefined) {
      logs.line(stale);
      await recordStalePush(store, queue, job, deployment, stale);
      return;
    }
    const commit = await fetchSource({ repoUrl: project.repo_url, sha: deployment.commit_sha, dir: sourceDir, log: logs.line, signal });
    timings.fetchMs = Date.now() - t;
    await store.db.updateTable('deployments').set({ commit_message: commit.message, commit_author: commit.authorName }).where('id', '=', deployment.id).execute();

    phase = 'build';
    // a Next.js project on the AWS target builds with OpenNext (its function zips outside the checkout)
    const build = await buildForTarget(store.db, project.id, deployment.environment, join(workDir, 'aws-functions'), {
      sourceDir,
      settings: {
        rootDirectory: project.root_directory ?? undefined,
        installCommand: project.install_command ?? undefined,
        buildCommand: project.build_command ?? undefined,
        outputDirectory: project.output_directory ?? undefined,
      },
      env: settings.env,
      timeoutMs: (project.build_timeout_seconds ?? config.defaultBuildTimeoutSeconds) * 1000,
      signal,
      log: logs.line,
      // per project, like everything a build can write: a shared npm cache or COREPACK_HOME would let
      // one project plant a package manager or a package that another project's build then runs
      cacheDir: packageCacheDir(config.dataDir, project.id),
      // per project too, and never seen by the build (restored and saved outside the sandbox)
      cache: {
        dir: join(config.dataDir, 'project-cache', project.id),
        shared: deps.sharedCacheBlobs === undefined ? undefined : createSharedBuildCache({ db: deps.store.db, blobs: deps.sharedCacheBlobs, projectId: project.id, log: logs.line }),
      },
      hiddenPaths: [config.dataDir],
      scratchDir: workDir,
      diskLimitMb: workspace.capped ? diskMb : undefined,
      limits: { memoryMb, pids, cpuShares, tmpMb: config.sandbox.tmpMb },
      allow: config.sandbox.allow,
      // one cache of verified, read-only Node.js releases for every project (nothing in it is writable by a build)
      node: { cacheDir: config.nodeCacheDir, setting: project.node_version ?? undefined },
      // a push decides nothing for a person: a deploy by hand always builds
      ignoreCommand: deployment.trigger === 'webhook' ? ignoreCommandOf(project) : undefined,
    });
    const buildInfo = {
      framework: build.framework,
      packageManager: build.packageManager,
      packageManagerVersion: build.packageManagerVersion,
      packageManagerReason: build.packageManagerReason,
      cache: build.cache,
      node: build.node,
    };
    await store.db
      .updateTable('deployments')
      .set({ build_info: JSON.stringify(buildInfo) })
      .where('id', '=', deployment.id)
      .execute();
    timings.installMs = build.installMs;
    timings.buildMs = build.buildMs;

    phase = 'package';
    await store.db.updateTable('deployments').set({ status: 'deploying' }).where('id', '=', deployment.id).execute();
    t = Date.now();
    // the site's own redirects, rewrites and headers: a bad rule fails here, before anything moves
    const rules = await readSiteRules({ checkout: sourceDir, rootDirectory: project.root_directory ?? '', outputDir: build.outputDir, log: logs.line });
    // these files configure the edge; they are not pages (vercel.json is in the output only when the output is the root)
    const exclude = (key: string) => (NETLIFY_RULE_FILES as readonly string[]).includes(key) || (build.outputIsRoot === true && key === 'vercel.json');
    const previous = await previousManifest(deps, project);
    // read before looking at which blobs the store has: a garbage collection's sweep moves it
    let fence = await readFence(store.db);
    const packageAll = async () => {
      const server =
        build.server === undefined
          ? undefined
          : await packageServer({ bundleDir: build.server.bundleDir, entry: build.server.entry, args: build.server.args, blobs: deps.blobs, previous: previous?.server, log: logs.line });
      // the server runs on the Node.js it was built on, wherever the runtime starts it
      if (server !== undefined && build.node !== undefined) server.bundle.node = { version: build.node.version };
      const pkg = await packageOutput({
        outputDir: build.outputDir,
        outputIsRoot: build.outputIsRoot,
        blobs: deps.blobs,
        previous,
        log: logs.line,
        server: server?.bundle,
        immutable: build.framework.immutable,
        rules,
        exclude,
      });
      return { server, pkg };
    };
    let { server, pkg } = await packageAll();
    timings.packageMs = Date.now() - t;
    if (server !== undefined) {
      logs.line(`Server bundle: ${server.filesTotal} files, ${server.filesUploaded} new`);
      phase = 'deploy';
      t = Date.now();
      await checkServer(deps, deployment.id, server.bundle, settings, logs.line, signal);
      timings.healthCheckMs = Date.now() - t;
    }

    phase = 'deploy';
    signal.throwIfAborted();
    // a sweep since packaging may have taken a blob this manifest reuses: package again after it (stores what went)
    while (!(await fenceHolds(store.db, fence))) {
      logs.line('A garbage collection ran while this deployment was packaged: storing again whatever it took.');
      fence = await fenceAfterSweep(store, signal);
      ({ server, pkg } = await packageAll());
    }
    // the AWS target (docs/aws.md): live on AWS first; Slipway's own aliases follow below
    await goLiveOnAws(deps, project, deployment, build, logs.line);
    // ready means live: every live edge starts an SSR server before its alias moves to it
    if (server !== undefined) await warmBeforeMove(store, project, deployment, pkg.manifestHash, logs.line);
    timings.totalMs = Date.now() - startedAt;
    // a log stream ends when it reads the deployment finished: every line so far must be stored first
    await logs.flush();
    const moved = await store.tx(
      async (db) => {
        await db.deleteFrom('warm_requests').where('deployment_id', '=', deployment.id).execute();
        // a sweep that started in the moment since: a system error, so the job runs again (rare)
        if (!(await fenceHolds(db, fence))) throw new Error('a garbage collection started as this deployment went ready; building it again');
        if (!(await queue.complete(db, job))) return undefined;
        // an environment that requires approval: built and stored, but no alias moves until a person approves
        const plan = await goLivePlan(db, project, deployment.environment);
        await db
          .updateTable('deployments')
          .set({
            status: plan.waits ? 'awaiting-approval' : 'ready',
            manifest_hash: pkg.manifestHash,
            files_total: pkg.filesTotal,
            files_uploaded: pkg.filesUploaded,
            bytes_uploaded: pkg.bytesUploaded,
            timings: JSON.stringify(timings),
            finished_at: Date.now(),
          })
          .where('id', '=', deployment.id)
          .execute();
        await recordDeploymentEvent(db, plan.waits ? 'deployment.awaiting_approval' : 'deployment.ready', deployment.id);
        const ready = await getDeployment(db, deployment.id);
        if (plan.waits) return [];
        const aliases = await movePreviewAliases(db, project.name, ready);
        // production (unless it waits for a person to promote) or a named environment's alias
        if (plan.alias !== undefined && plan.autoPromote && (await moveAliasForward(db, project.id, plan.alias, ready))) aliases.push(plan.alias);
        return aliases;
        // its decisions read and write this project's rows only: builds of other projects commit alongside
      },
      { scope: project.id },
    );
    if (moved === undefined) {
      logs.line('This worker lost its claim on the job before finishing; another attempt owns it now.');
      return;
    }
    if ((await getDeployment(store.db, deployment.id)).status === 'awaiting-approval') {
      logs.line(`Built. Waiting for approval before ${deployment.environment} serves it: slipway approve ${deployment.id} (or reject).`);
      return;
    }
    for (const alias of moved) deps.events.emit('alias-moved', { projectId: project.id, alias, deploymentId: deployment.id });
    deps.events.emit('deployment-changed', { deploymentId: deployment.id });
    // live_at: when every live edge serves the move (the CLI waits for it)
    if ((await recordLive(store, deployment.id, LIVE_WAIT_MS)) === undefined) logs.line(`Not every live edge confirmed serving it within ${LIVE_WAIT_MS / 1000} s; they switch when they can.`);
    logs.line(readyLine(deployment, moved));
  } catch (caught) {
    const reason = signal.aborted ? (signal.reason as StopReason) : undefined;
    if (reason === 'lease-lost' || reason === 'shutdown') {
      logs.line(reason === 'shutdown' ? 'Worker shutting down; the build will run again on the next claim.' : 'This worker lost its claim on the job; stopping.');
      throw new StopError(reason);
    }
    if (reason === undefined && caught instanceof AppError && caught.code === 'BUILD_SKIPPED') {
      logs.line(caught.message);
      await recordStalePush(store, queue, job, deployment, caught.message, 'BUILD_SKIPPED', 'build');
      return;
    }
    await recordFailure(deps, job, deployment, reason === 'canceled' ? new AppError('BUILD_FAILED', 'Canceled.') : (asDiskFull(caught) ?? caught), phase, logs, reason === 'canceled');
  } finally {
    await logs.flush();
    await (workspace?.release() ?? rm(workDir, { recursive: true, force: true })).catch(() => {});
  }
}

function ignoreCommandOf(project: Project): string | undefined {
  const step = previewSettings(project).ignoredBuildStep;
  return step !== null && 'command' in step ? step.command : undefined;
}

/** The build log's last line: where the deployment went live, or what it waits for. */
function readyLine(deployment: Deployment, moved: readonly string[]): string {
  if (moved.includes(PRODUCTION)) return `Ready. Production now serves ${deployment.id}.`;
  const env = moved.find((a) => a.startsWith('env:'));
  if (env !== undefined) return `Ready. Environment ${env.slice(4)} now serves ${deployment.id}.`;
  return `Ready at ${deployment.id}.`;
}

/** Thrown when the job was stopped from outside and must not be marked failed. */
export class StopError extends Error {
  constructor(readonly reason: StopReason) {
    super(`build stopped: ${reason}`);
  }
}

async function recordFailure(deps: JobDeps, job: ClaimedJob, deployment: Deployment, caught: unknown, phase: Phase, logs: LogSink, canceled: boolean): Promise<void> {
  const { store, queue } = deps;
  const err = toError(caught);
  const user = isUserError(err);
  // a failed build's message carries the tail of its output: mask it like the log
  const message = logs.mask(err.message);
  if (!user) jobLog.error({ deploymentId: deployment.id, attempt: job.attempt, phase, stack: logs.mask(err.stack ?? err.message) }, 'build failed on our side');
  logs.line(user ? `Error: ${message}` : `Internal error while ${phase === 'fetch' ? 'fetching' : phase === 'build' ? 'building' : phase === 'package' ? 'packaging' : 'deploying'}: ${message}`);
  await logs.flush();
  await store.tx(
    async (db) => {
      const finishedAt = Date.now();
      if (canceled) {
        if (await queue.failPermanently(db, job, 'canceled')) {
          await db.updateTable('deployments').set({ status: 'canceled', finished_at: finishedAt }).where('id', '=', deployment.id).execute();
        }
        return;
      }
      if (user) {
        if (await queue.failPermanently(db, job, message)) {
          await db
            .updateTable('deployments')
            .set({ status: 'failed', error_code: err.code, error_phase: phase, error_message: message, finished_at: finishedAt })
            .where('id', '=', deployment.id)
            .execute();
          await recordDeploymentEvent(db, 'deployment.failed', deployment.id);
        }
        return;
      }
      const outcome = await queue.failAndRetry(db, job, message);
      if (outcome === 'retrying') {
        await db.updateTable('deployments').set({ status: 'queued' }).where('id', '=', deployment.id).execute();
      } else if (outcome === 'dead') {
        await db
          .updateTable('deployments')
          .set({ status: 'failed', error_code: 'INTERNAL', error_phase: phase, error_message: `Gave up after ${job.attempt} attempts: ${message}`, finished_at: finishedAt })
          .where('id', '=', deployment.id)
          .execute();
        await recordDeploymentEvent(db, 'deployment.failed', deployment.id);
      }
    },
    { scope: deployment.project_id },
  );
  deps.events.emit('deployment-changed', { deploymentId: deployment.id });
}

/** The manifest production serves now (or the newest ready one): its compressed variants can be reused. */
async function previousManifest(deps: JobDeps, project: Project): Promise<Manifest | undefined> {
  const db = deps.store.db;
  const id =
    (await aliasTarget(db, project.id, PRODUCTION)) ??
    (await db.selectFrom('deployments').select('id').where('project_id', '=', project.id).where('status', '=', 'ready').orderBy('seq', 'desc').executeTakeFirst())?.id;
  if (id === undefined || id === null) return undefined;
  const d = await db.selectFrom('deployments').select('manifest_hash').where('id', '=', id).executeTakeFirst();
  if (d?.manifest_hash == null) return undefined;
  // only a head start for compression: a manifest whose blob changed on disk is not reused
  const bytes = await deps.blobs.get(d.manifest_hash).catch((err: unknown) => {
    if (isBlobIntegrityError(err)) return undefined;
    throw err;
  });
  return bytes === undefined ? undefined : parseManifest(bytes);
}
