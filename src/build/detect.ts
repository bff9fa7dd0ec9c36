import { stat } from 'node:fs/promises';
import { isAbsolute, join, normalize, sep } from 'node:path';
import { readFileBeneath, resolveBeneath } from '../beneath/index.js';
import { chooseManager, LOCKFILES, managerCommands, type ManagerChoice, type ManagerName } from './package-manager.js';

export type PackageManagerName = ManagerName | 'none';

/** What the build learned about the project before running anything. */
export interface Detected {
  packageManager: PackageManagerName;
  /** why this manager and version: "pnpm 9 from pnpm-lock.yaml lockfileVersion 9.0", or "no package.json" */
  reason: string;
  /** the manager and the version asked for; undefined without a package.json */
  manager?: ManagerChoice | undefined;
  /** the lockfile's name in the root directory, when there is one */
  lockfile?: string | undefined;
  /** argv of the install step, or undefined when nothing is installed */
  install: string[] | undefined;
  /** argv that runs a package.json script: [...run, 'build'] */
  run: string[];
  hasBuildScript: boolean;
  /** the root package's own install lifecycle scripts, in the order npm runs them */
  installScripts: string[];
  /** package.json as read (allow-lists of dependency scripts live there) */
  pkg?: Record<string, unknown> | undefined;
}

/**
 * Look at `dir` (the project's root directory) and decide how to install and build it. The
 * checkout's files are read without following a symlink out of `dir`: a committed
 * `package.json -> /somewhere` reads as no package.json.
 */
export async function detectProject(dir: string): Promise<Detected> {
  const pkg = await readPackageJson(dir);
  if (pkg === undefined) return { packageManager: 'none', reason: 'no package.json', install: undefined, run: [], hasBuildScript: false, installScripts: [] };

  let found: (typeof LOCKFILES)[number] | undefined;
  for (const row of LOCKFILES) {
    if ((await resolveBeneath(dir, row.file, { follow: true })).kind === 'file') {
      found = row;
      break;
    }
  }
  const choice = await chooseManager(dir, pkg, found?.file);
  // the packageManager field wins; another manager's lockfile is then not the install's
  const lockfile = found?.pm === choice.name ? found.file : await ownLockfile(dir, choice.name);
  const commands = managerCommands(choice, lockfile !== undefined);
  const scripts = typeof pkg.scripts === 'object' && pkg.scripts !== null ? (pkg.scripts as Record<string, unknown>) : {};
  return {
    packageManager: choice.name,
    manager: choice,
    lockfile,
    reason: found !== undefined && found.pm !== choice.name ? `${choice.reason}; ${found.file} is not used` : choice.reason,
    install: commands.install,
    run: commands.run,
    hasBuildScript: typeof scripts.build === 'string' && scripts.build.trim() !== '',
    installScripts: ['preinstall', 'install', 'postinstall', 'prepare'].filter((name) => typeof scripts[name] === 'string' && (scripts[name] as string).trim() !== ''),
    pkg,
  };
}

/** The named manager's own lockfile in `dir`, if any. */
async function ownLockfile(dir: string, pm: ManagerName): Promise<string | undefined> {
  for (const row of LOCKFILES) {
    if (row.pm === pm && (await resolveBeneath(dir, row.file, { follow: true })).kind === 'file') return row.file;
  }
  return undefined;
}

/** Where the site's files are after the build, when the project does not say: first that exists. */
export const OUTPUT_CANDIDATES = ['dist', 'build', 'out', 'public'] as const;

export async function detectOutputDir(rootDir: string): Promise<string | undefined> {
  for (const name of OUTPUT_CANDIDATES) {
    if (await isDirectory(join(rootDir, name))) return name;
  }
  return undefined;
}

/**
 * A project-supplied relative path ("apps/web", "dist") normalised, or undefined when it is
 * absolute or climbs out with "..". "" and "." mean the folder itself.
 */
export function cleanRelativePath(value: string): string | undefined {
  const trimmed = value.trim();
  if (trimmed === '' || trimmed === '.' || trimmed === './') return '';
  if (isAbsolute(trimmed) || trimmed.includes('\0')) return undefined;
  const normalised = normalize(trimmed).replace(/[/\\]+$/, '');
  if (normalised === '..' || normalised.startsWith(`..${sep}`) || normalised.split(/[/\\]/).includes('..')) return undefined;
  return normalised === '.' ? '' : normalised;
}

/** `dir`'s package.json as an object; undefined when there is none ({} when it does not parse) */
export async function readPackageJson(dir: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    const bytes = await readFileBeneath(dir, 'package.json');
    if (bytes === undefined) return undefined;
    text = bytes.toString('utf8');
  } catch {
    return undefined;
  }
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    // npm will report the syntax error itself, with a line number
    return {};
  }
}

export async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

export async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
