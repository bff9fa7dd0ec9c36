import { mkdir, mkdtemp, readdir, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, isAbsolute, sep } from 'node:path';
import { AppError } from '../errors/index.js';
import type { BuildRequest, BuildResult } from './types.js';
import { cleanRelativePath, detectOutputDir, detectProject, isDirectory } from './detect.js';
import { buildEnv } from './env.js';
import { formatSeconds, runCommand } from './run.js';
import { bwrapArgs, probeTools } from './sandbox.js';

export type { BuildRequest, BuildResult, BuildSettings, LogFn } from './types.js';
export { detectProject, OUTPUT_CANDIDATES, type Detected } from './detect.js';

/** npm ci's complaint when package.json and the lockfile disagree */
const COREPACK_UNSIGNED = /No compatible signature found|Signature does not match/;

/**
 * Let corepack fetch pnpm or yarn before the install. A registry mirror that serves packages
 * without the npm registry's signatures makes corepack refuse them; then the download is
 * retried without signature checks (still over TLS from the configured registry) and the log
 * says so.
 */
async function preparePackageManager(
  pm: 'pnpm' | 'yarn',
  exec: (label: string, argv: string[], watch?: RegExp) => Promise<{ code: number; tail: string[]; matched: boolean }>,
  env: Record<string, string>,
  log: (line: string) => void,
): Promise<void> {
  const first = await exec(`corepack ${pm} --version`, ['corepack', pm, '--version'], COREPACK_UNSIGNED);
  if (first.code === 0) return;
  if (!first.matched) throw commandFailed(`corepack ${pm} --version`, first.code, first.tail);
  log(`Warning: the registry serves ${pm} without signatures corepack can verify; fetching it without the signature check.`);
  env.COREPACK_INTEGRITY_KEYS = '0';
  const second = await exec(`corepack ${pm} --version`, ['corepack', pm, '--version']);
  if (second.code !== 0) throw commandFailed(`corepack ${pm} --version`, second.code, second.tail);
}

const NPM_CI_OUT_OF_SYNC = /can only install packages when your package\.json and package-lock\.json|are not in sync|in sync\. Please update your lock file/;

/**
 * Install and build a checked-out project, then find its output folder.
 * Commands run in a bubblewrap sandbox when it works here, with a clean environment, output
 * streamed line by line to `req.log`, and the whole process tree killed at `req.timeoutMs`.
 * Throws AppError BUILD_FAILED / BUILD_TIMEOUT / OUTPUT_NOT_FOUND / VALIDATION for the user's
 * problems; on abort, rejects with `req.signal.reason`.
 * `const { outputDir } = await runBuild({ sourceDir, settings: {}, env: {}, timeoutMs: 600_000, log, cacheDir, hiddenPaths: [dataDir] })`
 */
export async function runBuild(req: BuildRequest): Promise<BuildResult> {
  const { log, settings } = req;
  const sourceDir = await realpath(req.sourceDir);
  const rootRel = projectPath(settings.rootDirectory, 'rootDirectory', 'apps/web');
  const rootDir = join(sourceDir, rootRel);
  if (!(await isDirectory(rootDir)) || !(await isInside(sourceDir, rootDir))) {
    throw new AppError('BUILD_FAILED', `Root directory "${rootRel}" does not exist in the repository.`, {
      hint: 'Set rootDirectory to the folder that holds the site (relative to the repository root), or leave it empty.',
    });
  }

  const detected = await detectProject(rootDir);
  log(detected.packageManager === 'none' ? 'No package.json found: nothing to install' : `Detected ${detected.packageManager} (${detected.reason})`);

  const tools = await probeTools();
  const sandboxed = req.sandbox !== false && tools.bwrap.ok;
  if (req.sandbox !== false && !tools.bwrap.ok) log(`Warning: sandbox unavailable (bwrap: ${tools.bwrap.why}); the build runs without isolation`);

  const area = await mkdtemp(join(tmpdir(), 'slipway-build-'));
  try {
    const home = join(area, 'home');
    const tmp = join(area, 'tmp');
    await Promise.all([mkdir(home), mkdir(tmp), mkdir(req.cacheDir, { recursive: true })]);
    const cacheDir = await realpath(req.cacheDir);
    const env = buildEnv(req.env, { rootDir, home, tmp, cacheDir }, detected.packageManager);
    const sandbox = sandboxed ? await bwrapArgs({ hidden: req.hiddenPaths, writable: [area, sourceDir, cacheDir] }, rootDir) : undefined;
    const deadline = Date.now() + req.timeoutMs;

    const exec = (label: string, argv: string[], watch?: RegExp) => {
      log(`Running "${label}"`);
      return runCommand({ label, argv, cwd: rootDir, env, deadline, timeoutMs: req.timeoutMs, signal: req.signal, log, sandbox, hardTimeout: tools.timeout, watch });
    };
    const step = async (label: string, argv: string[]) => {
      const { code, tail } = await exec(label, argv);
      if (code !== 0) throw commandFailed(label, code, tail);
    };

    // install
    const installStart = Date.now();
    if (detected.packageManager === 'pnpm' || detected.packageManager === 'yarn') await preparePackageManager(detected.packageManager, exec, env, log);
    const installCommand = settings.installCommand;
    if (installCommand !== undefined && installCommand.trim() === '') log('Install skipped (installCommand is empty)');
    else if (installCommand !== undefined) await step(installCommand, ['sh', '-c', installCommand]);
    else if (detected.install !== undefined) {
      const label = detected.install.join(' ');
      if (label === 'npm ci') {
        const ci = await exec(label, detected.install, NPM_CI_OUT_OF_SYNC);
        if (ci.code !== 0 && ci.matched) {
          log('Warning: package-lock.json is out of sync with package.json; running "npm install" instead. Commit an updated lockfile to get reproducible installs.');
          await step('npm install', ['npm', 'install']);
        } else if (ci.code !== 0) throw commandFailed(label, ci.code, ci.tail);
      } else await step(label, detected.install);
    }
    const installMs = Date.now() - installStart;
    if (installMs > 50) log(`Installed in ${formatSeconds(installMs)}`);

    // build
    const buildStart = Date.now();
    const buildCommand = settings.buildCommand;
    if (buildCommand !== undefined && buildCommand.trim() !== '') await step(buildCommand, ['sh', '-c', buildCommand]);
    else if (buildCommand === undefined && detected.hasBuildScript) await step([...detected.run, 'build'].join(' '), [...detected.run, 'build']);
    else log('No build step: the files are served as they are');
    const buildMs = Date.now() - buildStart;
    if (buildMs > 50) log(`Build finished in ${formatSeconds(buildMs)}`);

    // output
    const outputRel = await findOutput(rootDir, settings.outputDirectory);
    const outputDir = join(rootDir, outputRel);
    if (!(await isInside(sourceDir, outputDir))) {
      throw new AppError('OUTPUT_NOT_FOUND', `Output directory "${outputRel}" points outside the repository.`);
    }
    const outputIsRoot = outputRel === '';
    const files = await countFiles(outputDir, outputIsRoot);
    log(`Output: ${outputIsRoot ? 'the root directory' : outputRel} (${files} file${files === 1 ? '' : 's'})`);
    return { outputDir, packageManager: detected.packageManager, installMs, buildMs, outputIsRoot };
  } finally {
    await rm(area, { recursive: true, force: true });
  }
}

async function findOutput(rootDir: string, override: string | undefined): Promise<string> {
  if (override === undefined || override.trim() === '') return (await detectOutputDir(rootDir)) ?? '';
  const rel = projectPath(override, 'outputDirectory', 'dist');
  if (!(await isDirectory(join(rootDir, rel)))) {
    throw new AppError('OUTPUT_NOT_FOUND', `The build did not produce the output directory "${rel}".`, {
      hint: `Check the build log for the folder your build writes (often dist, build or out) and set outputDirectory to it, relative to the root directory.`,
    });
  }
  return rel;
}

/** A project setting that must be a relative path inside the repository. */
function projectPath(value: string | undefined, name: string, example: string): string {
  if (value === undefined) return '';
  const clean = cleanRelativePath(value);
  if (clean === undefined) {
    throw new AppError('VALIDATION', `${name} "${value}" must be a relative path inside the repository, like "${example}".`);
  }
  return clean;
}

/** True when `path` (after resolving symlinks) is `root` or below it. */
async function isInside(root: string, path: string): Promise<boolean> {
  const real = await realpath(path).catch(() => undefined);
  if (real === undefined) return false;
  const rel = relative(root, real);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

function commandFailed(label: string, code: number, tail: string[]): AppError {
  const lines = tail.length > 0 ? `\n${tail.join('\n')}` : '';
  return new AppError('BUILD_FAILED', `Command "${label}" exited with code ${code}${lines}`);
}

async function countFiles(dir: string, skipDependencies: boolean): Promise<number> {
  let count = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name === '.git' || (skipDependencies && entry.name === 'node_modules')) continue;
    if (entry.isDirectory()) count += await countFiles(join(dir, entry.name), false);
    else if (entry.isFile() || entry.isSymbolicLink()) count += 1;
  }
  return count;
}
