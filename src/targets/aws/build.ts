import { join } from 'node:path';
import { readFileBeneath } from '../../beneath/index.js';
import { type AwsBuild, buildForAws } from '../../build/opennext/index.js';
import { runBuild } from '../../build/index.js';
import type { BuildRequest, BuildResult } from '../../build/types.js';
import type { Db } from '../../store/index.js';
import type { AwsBuildOutput } from './deploy.js';
import { resolveTarget } from './target.js';

/** A build result that carries what the AWS target deploys (goLiveOnAws reads `aws`). */
export type TargetBuildResult = BuildResult & { aws?: AwsBuildOutput };

/** Whether the project's package.json (below its root directory) depends on Next.js. */
export async function dependsOnNext(sourceDir: string, rootDirectory: string | undefined): Promise<boolean> {
  const bytes = await readFileBeneath(sourceDir, join(rootDirectory ?? '', 'package.json')).catch(() => undefined);
  if (bytes === undefined) return false;
  try {
    const pkg = JSON.parse(bytes.toString('utf8')) as { dependencies?: Record<string, unknown>; devDependencies?: Record<string, unknown> };
    return typeof pkg.dependencies?.next === 'string' || typeof pkg.devDependencies?.next === 'string';
  } catch {
    return false; // runBuild reports a broken package.json itself
  }
}

/**
 * What the worker deploys from an OpenNext build: the assets folder as the build's output (what
 * Slipway's own manifest records, so rollback and history work as for any site), no server for
 * Slipway's runtime to start (the server runs on Lambda), and the function zips for the AWS target.
 */
export function awsBuildResult(built: AwsBuild): TargetBuildResult & { aws: AwsBuildOutput } {
  const { server: _onLambda, ...build } = built.build;
  return {
    ...build,
    outputDir: built.assetsDir,
    outputIsRoot: false,
    aws: {
      assetsDir: built.assetsDir,
      cacheDir: built.cacheDir,
      functions: built.functions.map((f) => ({ name: f.name, zipPath: f.zipPath, handler: f.handler })),
      immutable: build.framework.immutable ?? [],
    },
  };
}

/**
 * The worker's build step for a deployment: a Next.js project whose target (for this
 * environment) is AWS builds with OpenNext (buildForAws, zips in `zipDir`, outside the checkout);
 * everything else builds as always. A server framework other than Next.js on AWS still fails
 * later, in goLiveOnAws, with AWS_TARGET_INCOMPLETE.
 */
export async function buildForTarget(db: Db, projectId: string, environment: string, zipDir: string, req: BuildRequest): Promise<TargetBuildResult> {
  const setting = await resolveTarget(db, projectId, environment);
  if (setting.target !== 'aws' || req.buildStep !== undefined || !(await dependsOnNext(req.sourceDir, req.settings.rootDirectory))) return runBuild(req);
  req.log('This project deploys to AWS: building it with OpenNext');
  return awsBuildResult(await buildForAws({ ...req, zipDir }));
}
