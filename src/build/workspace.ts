import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { delimiter, join, relative, sep } from 'node:path';
import { readFileBeneath, resolveBeneath } from '../beneath/index.js';
import { DEPENDENCY_FIELDS } from './cache-key.js';
import { detectProject, readPackageJson, type Detected } from './detect.js';
import type { WorkspaceBundle } from './server-bundle.js';
import type { LogFn } from './types.js';

/*
 * Monorepos: a project whose rootDirectory is a package of an npm, pnpm or yarn workspace has no
 * lockfile of its own. It installs at the workspace root with the root lockfile, and builds only
 * its own package with its workspace dependencies first, the way the repository's own tool does
 * (turbo, nx, pnpm --filter), or in dependency order with npm/yarn alone.
 *
 * Everything here reads the checkout before any build command runs, without following a link
 * out of it (beneath.ts), and walks only real folders.
 */

/** One package of the workspace. */
export interface WorkspacePackage {
  /** its folder relative to the workspace root, '/'-separated */
  rel: string;
  name: string | undefined;
  /** names of the workspace packages it depends on (dependencies, devDependencies, optionalDependencies) */
  deps: string[];
  hasBuildScript: boolean;
  installScripts: string[];
  manifest: Record<string, unknown>;
}

export interface Workspace {
  /** the workspace root: absolute, no link in it */
  dir: string;
  /** the workspace root inside the checkout ('' for the checkout itself) */
  rel: string;
  declaredIn: 'pnpm-workspace.yaml' | 'package.json "workspaces"';
  /** how to install (the root's lockfile and manager); hasBuildScript is the project package's */
  detected: Detected;
  /** the project's own package */
  pkg: WorkspacePackage;
  packages: WorkspacePackage[];
  orchestrator: 'turbo' | 'nx' | undefined;
}

/** one command of a workspace build, run in `cwd` */
export interface WorkspaceStep {
  label: string;
  argv: string[];
  cwd: string;
}

/** folders never searched for workspace packages */
const SKIP_DIRS = new Set(['node_modules', '.git']);
const MAX_DEPTH = 6;
const MAX_DIRS = 5000;
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare'];

/**
 * The workspace `rootDir` (a folder of the checkout `checkout`, both without links) is a
 * package of, or undefined when it is none: the nearest folder above it whose
 * pnpm-workspace.yaml or package.json "workspaces" globs name it. A package with a lockfile of
 * its own installs on its own, as before.
 * `const ws = await findWorkspace(checkout, join(checkout, 'apps/web'), log)` → ws.rel === ''
 */
export async function findWorkspace(checkout: string, rootDir: string, log: LogFn): Promise<Workspace | undefined> {
  const projectRel = relative(checkout, rootDir).split(sep).join('/');
  if (projectRel === '') return undefined;
  const own = await detectProject(rootDir);
  if (own.packageManager === 'none') return undefined;
  const parts = projectRel.split('/');
  for (let depth = parts.length - 1; depth >= 0; depth--) {
    const rel = parts.slice(0, depth).join('/');
    const found = await resolveBeneath(checkout, rel, { follow: false });
    if (found.kind !== 'dir') continue;
    const globs = await workspaceGlobs(found.path);
    if (globs === undefined) continue;
    const packageRel = parts.slice(depth).join('/');
    if (!matchesGlobs(packageRel, globs.patterns)) {
      log(`Note: ${projectRel} is not one of the packages of the workspace at ${rel === '' ? 'the repository root' : rel} (${globs.declaredIn}); building it on its own`);
      return undefined;
    }
    if (own.lockfile !== undefined) {
      log(`Note: ${projectRel} has a lockfile of its own (${own.lockfile}); installing it on its own, not at the workspace root`);
      return undefined;
    }
    return openWorkspace(found.path, rel, globs, packageRel, log);
  }
  return undefined;
}

async function openWorkspace(dir: string, rel: string, globs: { patterns: string[]; declaredIn: Workspace['declaredIn'] }, packageRel: string, log: LogFn): Promise<Workspace | undefined> {
  const packages: WorkspacePackage[] = [];
  for (const pkgRel of await findPackageDirs(dir, globs.patterns)) {
    const manifest = await readPackageJson(join(dir, pkgRel));
    if (manifest !== undefined) packages.push(describePackage(pkgRel, manifest));
  }
  const names = new Set(packages.map((p) => p.name).filter((n) => n !== undefined));
  for (const p of packages) p.deps = p.deps.filter((name) => names.has(name) && name !== p.name);
  const pkg = packages.find((p) => p.rel === packageRel);
  if (pkg === undefined) return undefined;
  const root = await detectProject(dir);
  const rootManifest = (await readPackageJson(dir)) ?? {};
  const rootDeps = { ...asRecord(rootManifest.dependencies), ...asRecord(rootManifest.devDependencies) };
  const hasRootFile = async (file: string) => (await resolveBeneath(dir, file, { follow: true })).kind === 'file';
  let orchestrator: Workspace['orchestrator'] = (await hasRootFile('turbo.json')) && 'turbo' in rootDeps ? 'turbo' : (await hasRootFile('nx.json')) && 'nx' in rootDeps ? 'nx' : undefined;
  // turbo 2 refuses to read a workspace whose package.json names no package manager
  if (orchestrator === 'turbo' && typeof rootManifest.packageManager !== 'string' && asRecord(rootManifest.devEngines).packageManager === undefined) {
    log('Note: the workspace has turbo.json, but turbo needs a "packageManager" field in the root package.json (e.g. "pnpm@9.15.0"); building without turbo');
    orchestrator = undefined;
  }
  const where = rel === '' ? 'the repository root' : rel;
  log(
    `Workspace: ${packageRel} is package ${pkg.name ?? '(unnamed)'} of the ${root.packageManager} workspace at ${where} (${globs.declaredIn}, ${packages.length} packages${orchestrator === undefined ? '' : `, ${orchestrator}`}); installing there${root.lockfile === undefined ? '' : ` with ${root.lockfile}`}`,
  );
  const detected: Detected = { ...root, reason: `${root.reason} at the workspace root`, hasBuildScript: pkg.hasBuildScript };
  return { dir, rel, declaredIn: globs.declaredIn, detected, pkg, packages, orchestrator };
}

/**
 * The commands that build the project's package and its workspace dependencies first, and
 * whether they build the package itself (false: it has no build script, so only its
 * dependencies are built here and the framework's own build command follows). Every step runs
 * at the workspace root except the generic fallback, which runs in each package's folder.
 */
export function workspaceBuild(ws: Workspace, log: LogFn): { steps: WorkspaceStep[]; builtPackage: boolean } {
  const { pkg, dir } = ws;
  const pm = ws.detected.run.slice(0, -1);
  const chain = dependencyOrder(ws, log);
  const depsWithBuild = chain.filter((p) => p.hasBuildScript);
  const self = pkg.hasBuildScript;
  if (!self && depsWithBuild.length === 0) return { steps: [], builtPackage: false };
  // turbo and pnpm select by name; a package without one by its folder
  const selector = pkg.name ?? `{./${pkg.rel}}`;
  const filter = `${selector}${self ? '' : '^'}...`;
  const step = (argv: string[], cwd = dir): WorkspaceStep => ({ label: argv.join(' '), argv, cwd });
  const order = [...depsWithBuild, ...(self ? [pkg] : [])].map((p) => p.name ?? p.rel).join(' → ');
  if (ws.orchestrator === 'turbo') {
    // loose: the build sees the project's variables, as without turbo (strict mode would hide the ones turbo.json does not list)
    log(`Building with turbo: ${order} (turbo builds workspace dependencies first)`);
    return { steps: [step(['turbo', 'run', 'build', `--filter=${filter}`, '--env-mode=loose'])], builtPackage: self };
  }
  if (ws.orchestrator === 'nx' && self && pkg.name !== undefined) {
    log(`Building with nx: nx run ${pkg.name}:build (nx builds the dependencies nx.json's dependsOn names)`);
    return { steps: [step(['nx', 'run', `${pkg.name}:build`])], builtPackage: true };
  }
  if (ws.detected.packageManager === 'pnpm') {
    log(`Building with pnpm --filter ${filter}: ${order} (pnpm builds workspace dependencies first)`);
    return { steps: [step([...pm, '--filter', filter, 'run', 'build'])], builtPackage: self };
  }
  log(depsWithBuild.length === 0 ? `Building ${order} (no workspace dependency of it has a build script)` : `Building the workspace dependencies first, in dependency order: ${order}`);
  const one = (p: WorkspacePackage): WorkspaceStep =>
    ws.detected.packageManager === 'yarn' && p.name !== undefined
      ? step([...pm, 'workspace', p.name, 'run', 'build'])
      : ws.detected.packageManager === 'npm'
        ? step(['npm', 'run', 'build', `--workspace=${p.rel}`])
        : step([...ws.detected.run, 'build'], join(dir, p.rel));
  return { steps: [...depsWithBuild, ...(self ? [pkg] : [])].map(one), builtPackage: self };
}

/** What the package's server bundle takes along of the workspace (server-bundle.ts): its folder and its workspace dependencies'. */
export function workspaceBundle(ws: Workspace): WorkspaceBundle {
  return { dir: ws.dir, packageRel: ws.pkg.rel, dependencies: dependencyOrder(ws, () => undefined).map((p) => p.rel) };
}

/** The package's workspace dependencies, each after its own, the package itself left out. */
function dependencyOrder(ws: Workspace, log: LogFn): WorkspacePackage[] {
  const byName = new Map(ws.packages.filter((p) => p.name !== undefined).map((p) => [p.name!, p]));
  const done = new Set<WorkspacePackage>();
  const visiting = new Set<WorkspacePackage>();
  const out: WorkspacePackage[] = [];
  const visit = (p: WorkspacePackage) => {
    if (done.has(p)) return;
    if (visiting.has(p)) {
      log(`Warning: the workspace packages depend on each other in a cycle through ${p.name ?? p.rel}; building in the order found`);
      return;
    }
    visiting.add(p);
    for (const name of p.deps) {
      const dep = byName.get(name);
      if (dep !== undefined) visit(dep);
    }
    visiting.delete(p);
    done.add(p);
    out.push(p);
  };
  visit(ws.pkg);
  return out.filter((p) => p !== ws.pkg);
}

/**
 * Where the workspace's tools are found: its root's node_modules/.bin after the package's own,
 * and, for turbo and nx (which run `pnpm run build` / `yarn run build` in each package), small
 * shims that run the package manager through corepack, as the build's own install did.
 */
export async function workspaceEnv(ws: Workspace, env: Record<string, string>, shimDir: string): Promise<void> {
  const [first, ...rest] = (env.PATH ?? '').split(delimiter);
  const extra = [join(ws.dir, 'node_modules', '.bin')];
  const pm = ws.detected.packageManager;
  if (ws.orchestrator !== undefined && (pm === 'pnpm' || pm === 'yarn')) {
    await mkdir(shimDir, { recursive: true });
    const argv = ws.detected.run.slice(0, -1).map(shellQuote).join(' ');
    await writeFile(join(shimDir, pm), `#!/bin/sh\nexec ${argv} "$@"\n`);
    await chmod(join(shimDir, pm), 0o755);
    extra.push(shimDir);
  }
  env.PATH = [first ?? '', ...extra, ...rest].join(delimiter);
  // no telemetry, update checks, daemons or cloud calls from a build; the project's own values win
  const quiet: Record<string, string> =
    ws.orchestrator === 'turbo'
      ? { TURBO_TELEMETRY_DISABLED: '1', TURBO_NO_UPDATE_NOTIFIER: '1', DO_NOT_TRACK: '1' }
      : ws.orchestrator === 'nx'
        ? { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' }
        : {};
  for (const [name, value] of Object.entries(quiet)) env[name] ??= value;
}

/** After a cache hit: the install scripts npm/pnpm/yarn would have run, the root's and each package's. */
export function installScriptSteps(detected: Detected, installDir: string, ws: Workspace | undefined): WorkspaceStep[] {
  const at = (cwd: string, scripts: string[]) => scripts.map((s) => ({ label: [...detected.run, s].join(' '), argv: [...detected.run, s], cwd }));
  return [...at(installDir, detected.installScripts), ...(ws?.packages ?? []).flatMap((p) => at(join(ws!.dir, p.rel), p.installScripts))];
}

/** What else decides a workspace's installed tree, for the dependency key: each package's folder and dependency fields. */
export function workspaceKey(ws: Workspace): string {
  return JSON.stringify(ws.packages.map((p) => [p.rel, DEPENDENCY_FIELDS.map((f) => [f, p.manifest[f] ?? null])]));
}

/** The package folders that may hold a node_modules of their own (pnpm always, npm and yarn for version conflicts). */
export function packageTrees(ws: Workspace): string[] {
  return ws.packages.map((p) => p.rel);
}

/** The workspace globs of the folder `dir`, or undefined when it declares none. */
async function workspaceGlobs(dir: string): Promise<{ patterns: string[]; declaredIn: Workspace['declaredIn'] } | undefined> {
  const yaml = await readFileBeneath(dir, 'pnpm-workspace.yaml').catch(() => undefined);
  if (yaml !== undefined) return { patterns: parsePnpmPackages(yaml.toString('utf8')), declaredIn: 'pnpm-workspace.yaml' };
  const pkg = await readPackageJson(dir);
  const field = pkg?.workspaces;
  // npm and yarn: an array; yarn classic also { packages: [...] }
  const list = Array.isArray(field) ? field : Array.isArray(asRecord(field).packages) ? (asRecord(field).packages as unknown[]) : undefined;
  if (list === undefined) return undefined;
  return { patterns: list.filter((p): p is string => typeof p === 'string'), declaredIn: 'package.json "workspaces"' };
}

/**
 * The `packages:` list of a pnpm-workspace.yaml, as block (`- 'apps/*'`) or flow (`['apps/*']`)
 * sequence; the rest of the file (catalogs, settings) is pnpm's.
 */
export function parsePnpmPackages(text: string): string[] {
  const lines = text.split(/\r?\n/);
  const start = lines.findIndex((l) => /^packages\s*:/.test(l));
  if (start === -1) return [];
  const unquote = (s: string) =>
    s
      .replace(/\s+#.*$/, '')
      .trim()
      .replace(/^(['"])(.*)\1$/, '$2');
  const inline = lines[start]!.replace(/^packages\s*:/, '')
    .replace(/\s+#.*$/, '')
    .trim();
  if (inline.startsWith('['))
    return inline
      .replace(/^\[|\]$/g, '')
      .split(',')
      .map(unquote)
      .filter((s) => s !== '');
  const out: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (/^\s*(#.*)?$/.test(line)) continue;
    const item = /^\s+-\s+(.+)$/.exec(line);
    if (item === null) break;
    out.push(unquote(item[1]!));
  }
  return out;
}

/** whether `rel` is named by the globs (`apps/*`, `packages/**`), none of the `!` ones excluding it */
export function matchesGlobs(rel: string, patterns: string[]): boolean {
  const test = (p: string) => globToRegExp(p).test(rel);
  return patterns.some((p) => !p.startsWith('!') && test(p)) && !patterns.some((p) => p.startsWith('!') && test(p.slice(1)));
}

function globToRegExp(glob: string): RegExp {
  const segs = glob
    .trim()
    .split('/')
    .filter((s) => s !== '' && s !== '.');
  let re = '^';
  segs.forEach((seg, i) => {
    const last = i === segs.length - 1;
    if (seg === '**') {
      re += last ? '.+' : '(?:[^/]+/)*';
      return;
    }
    re += seg
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '[^/]*')
      .replace(/\?/g, '[^/]');
    if (!last) re += '/';
  });
  return new RegExp(`${re}$`);
}

/** Folders below `root` (real ones, not node_modules or dot-folders) that the globs name, sorted. */
async function findPackageDirs(root: string, patterns: string[]): Promise<string[]> {
  const found: string[] = [];
  let seen = 0;
  const walk = async (dir: string, rel: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH || ++seen > MAX_DIRS) return;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      // withFileTypes reports a symlink as one: never descended into
      if (!entry.isDirectory() || SKIP_DIRS.has(entry.name) || entry.name.startsWith('.')) continue;
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (matchesGlobs(childRel, patterns)) found.push(childRel);
      await walk(join(dir, entry.name), childRel, depth + 1);
    }
  };
  await walk(root, '', 1);
  return found;
}

function describePackage(rel: string, manifest: Record<string, unknown>): WorkspacePackage {
  const scripts = asRecord(manifest.scripts);
  const has = (name: string) => typeof scripts[name] === 'string' && (scripts[name] as string).trim() !== '';
  const deps = ['dependencies', 'devDependencies', 'optionalDependencies'].flatMap((f) => Object.keys(asRecord(manifest[f])));
  return {
    rel,
    name: typeof manifest.name === 'string' && manifest.name !== '' ? manifest.name : undefined,
    deps: [...new Set(deps)],
    hasBuildScript: has('build'),
    installScripts: INSTALL_SCRIPTS.filter(has),
    manifest,
  };
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
