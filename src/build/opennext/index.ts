import { createRequire } from 'node:module';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AppError } from '../../errors/index.js';
import { readFileBeneath, resolveBeneath } from '../../beneath/index.js';
import { runBuild } from '../index.js';
import type { BuildRequest, BuildResult } from '../types.js';
import { packageClosure } from './closure.js';
import { zipFolder } from './zip.js';

/** Lambda's limits on a function's deployment package (zip upload) and on what it unpacks to. */
export const LAMBDA_ZIP_LIMIT = 50 * 1024 * 1024;
export const LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024;

export interface AwsBuildRequest extends Omit<BuildRequest, 'buildStep'> {
  /** a folder of Slipway's own, outside the checkout, for the function zips (server.zip, image.zip) */
  zipDir: string;
}

/**
 * One Lambda function of the build. What OpenNext's default build reads from its environment at
 * run time, to set on the function: server: CACHE_BUCKET_NAME, CACHE_BUCKET_KEY_PREFIX and
 * CACHE_BUCKET_REGION (the incremental cache: the `cacheDir` files uploaded under that prefix),
 * CACHE_DYNAMO_TABLE (tag cache), REVALIDATION_QUEUE_URL and _REGION (ISR); image: BUCKET_NAME
 * and BUCKET_KEY_PREFIX (where the assets are). Pages that need none of them render without.
 */
export interface AwsFunctionZip {
  /** server: every page, route handler and the middleware; image: `/_next/image` */
  name: 'server' | 'image';
  zipPath: string;
  /** Lambda's Handler setting, "index.handler": the file index.mjs at the zip's root, its export `handler` */
  handler: string;
  bytes: number;
  unzippedBytes: number;
  /** hex sha256 of the zip: the same build output gives the same zip */
  sha256: string;
  /** OpenNext built it for response streaming: its Function URL needs InvokeMode RESPONSE_STREAM (the default build: false, BUFFERED) */
  streaming: boolean;
}

export interface AwsBuild {
  /**
   * static files laid out by URL (`_next/static/...` fingerprinted, `public/` files at the root):
   * upload under the deployment's asset root. Inside the checkout (written by project code):
   * read it without following links, as the blob packager does.
   */
  assetsDir: string;
  /** the prerendered pages and fetch cache OpenNext's incremental cache reads from S3 (its `_cache` origin), when there are any */
  cacheDir?: string | undefined;
  functions: AwsFunctionZip[];
  /** the install and build, as runBuild reports them (framework, package manager, caches) */
  build: BuildResult;
  timings: {
    installMs: number;
    /** OpenNext's whole step: `next build` plus its bundling */
    openNextMs: number;
    /** the `next build` inside it, when OpenNext's log showed where it ended */
    nextBuildMs?: number | undefined;
    packageMs: number;
  };
}

/** Lambda's Node.js handler setting: a module path below the function's root, a dot, an export name */
const HANDLER = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*\.[A-Za-z_$][A-Za-z0-9_$]*$/;

/** what OpenNext 4 writes in .open-next/open-next.output.json, the parts read here */
interface OpenNextOutput {
  origins?: Record<string, { type?: string; handler?: string; bundle?: string; streaming?: boolean } | undefined>;
}

/** OpenNext's name of the function in open-next.output.json, and where it puts it when that file says nothing */
const FUNCTIONS = [
  { name: 'server', origin: 'default', fallback: 'server-functions/default' },
  { name: 'image', origin: 'imageOptimizer', fallback: 'image-optimization-function' },
] as const;

const NOT_NEXT = 'Next.js is not installed in this project (no "next" among its dependencies): the AWS target builds Next.js apps with OpenNext';

/**
 * OpenNext refuses to run without a next.config file, which a Next.js app does not need: an
 * empty one is written first (after making sure it is a Next.js app, or OpenNext's own complaint
 * would be a stack trace). This runs in the sandbox, with OpenNext's CLI as $1 (no path is
 * pasted into the script).
 */
const OPENNEXT_SCRIPT = [
  `node -e 'require.resolve("next/package.json", { paths: [process.cwd()] })' 2>/dev/null || { echo '${NOT_NEXT}'; exit 1; }`,
  'for f in next.config.ts next.config.mts next.config.cts next.config.js next.config.mjs next.config.cjs; do [ -e "$f" ] && exec node "$1" build; done',
  'echo "No next.config file: writing an empty next.config.mjs, which OpenNext needs"',
  "echo 'export default {};' > next.config.mjs",
  'exec node "$1" build',
].join('\n');

/**
 * Build a Next.js project for the AWS target: install as runBuild does, then run OpenNext's
 * build (`@opennextjs/aws`, from Slipway's own node_modules) in the build sandbox in place of the
 * build command. OpenNext runs the project's build script (`next build` with standalone output)
 * and bundles the result; its package folder and its dependencies are bound read-only into the
 * sandbox (packageClosure), so the project's code can run it but not change it. Then each
 * function folder is zipped deterministically and checked against Lambda's size limits.
 * Throws what runBuild throws, FUNCTION_TOO_LARGE, or OUTPUT_NOT_FOUND when OpenNext wrote no function.
 * `const aws = await buildForAws({ ...buildRequest, zipDir }); aws.functions[0].zipPath`
 */
export async function buildForAws(req: AwsBuildRequest): Promise<AwsBuild> {
  const { zipDir, ...rest } = req;
  if (req.settings.buildCommand !== undefined && req.settings.buildCommand.trim() !== '') {
    // OpenNext runs the build itself; its own config file is where another command goes
    req.log(
      `Warning: the project's buildCommand "${req.settings.buildCommand}" is not used on the AWS target: OpenNext runs the "build" script (set buildCommand in open-next.config.ts to change that)`,
    );
  }
  const cli = openNextCli();
  const readOnly = await packageClosure(dirname(dirname(cli)));
  let openNextStart: number | undefined;
  let bundleStart: number | undefined;
  // OpenNext prints a banner between `next build` and its bundling: where the one ends and the other starts
  const log = (line: string) => {
    if (openNextStart === undefined && line === 'Running "open-next build"') openNextStart = Date.now();
    else if (bundleStart === undefined && openNextStart !== undefined && /OpenNext .{1,3} Generating bundle/.test(line)) bundleStart = Date.now();
    req.log(line);
  };
  const build = await runBuild({
    ...rest,
    log,
    settings: { ...req.settings, outputDirectory: '.open-next' },
    buildStep: { label: 'open-next build', argv: ['sh', '-c', OPENNEXT_SCRIPT, 'open-next', cli], readOnly },
  });

  const packageStart = Date.now();
  const outputDir = build.outputDir;
  const manifest = await readOutputManifest(outputDir);
  await mkdir(zipDir, { recursive: true });
  const functions: AwsFunctionZip[] = [];
  for (const fn of FUNCTIONS) {
    const origin = manifest.origins?.[fn.origin];
    const bundleRel = typeof origin?.bundle === 'string' ? origin.bundle.replace(/^\.open-next\//, '') : fn.fallback;
    const bundle = await resolveBeneath(outputDir, bundleRel, { follow: false });
    if (bundle.kind !== 'dir') {
      throw new AppError('OUTPUT_NOT_FOUND', `OpenNext wrote no ${fn.name} function (looked for .open-next/${bundleRel}).`, {
        hint: 'Read the "open-next build" part of the build log; an open-next.config.ts that splits or renames functions is not supported by the AWS target yet.',
      });
    }
    const zipPath = join(zipDir, `${fn.name}.zip`);
    const zipped = await zipFolder(bundle.path, zipPath);
    checkLambdaLimits(fn.name, zipped.bytes, zipped.unzippedBytes);
    // the output file is the build's (project code could have written it): only a plain `file.export` is taken
    const handler = typeof origin?.handler === 'string' && HANDLER.test(origin.handler) ? origin.handler : 'index.handler';
    functions.push({ name: fn.name, zipPath, handler, bytes: zipped.bytes, unzippedBytes: zipped.unzippedBytes, sha256: zipped.sha256, streaming: origin?.streaming === true });
    req.log(`Packaged the ${fn.name} function: ${mb(zipped.bytes)} zipped, ${mb(zipped.unzippedBytes)} unzipped, ${zipped.files} files`);
  }
  const assets = await resolveBeneath(outputDir, 'assets', { follow: false });
  if (assets.kind !== 'dir') throw new AppError('OUTPUT_NOT_FOUND', 'OpenNext wrote no .open-next/assets folder.', { hint: 'Read the "open-next build" part of the build log.' });
  const cache = await resolveBeneath(outputDir, 'cache', { follow: false });
  const end = Date.now();
  return {
    assetsDir: assets.path,
    cacheDir: cache.kind === 'dir' ? cache.path : undefined,
    functions,
    build,
    timings: {
      installMs: build.installMs,
      openNextMs: build.buildMs,
      nextBuildMs: openNextStart !== undefined && bundleStart !== undefined ? bundleStart - openNextStart : undefined,
      packageMs: end - packageStart,
    },
  };
}

/** A clear build error when a zip is over what Lambda accepts, naming both limits. */
export function checkLambdaLimits(name: string, bytes: number, unzippedBytes: number): void {
  const over =
    bytes > LAMBDA_ZIP_LIMIT ? `${mb(bytes)} zipped (Lambda takes at most 50 MB)` : unzippedBytes > LAMBDA_UNZIPPED_LIMIT ? `${mb(unzippedBytes)} unzipped (Lambda takes at most 250 MB)` : undefined;
  if (over === undefined) return;
  throw new AppError('FUNCTION_TOO_LARGE', `The ${name} function is too large for AWS Lambda: ${over}.`);
}

/** OpenNext's CLI, a real path in Slipway's own node_modules (what the sandbox binds read-only) */
function openNextCli(): string {
  return createRequire(import.meta.url).resolve('@opennextjs/aws/index.js');
}

async function readOutputManifest(outputDir: string): Promise<OpenNextOutput> {
  const bytes = await readFileBeneath(outputDir, 'open-next.output.json');
  if (bytes === undefined) return {};
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as OpenNextOutput) : {};
  } catch {
    return {};
  }
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export { packageClosure } from './closure.js';
export { zipFolder, type ZipResult } from './zip.js';
