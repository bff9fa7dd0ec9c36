import { stat } from 'node:fs/promises';
import { isAbsolute, join, normalize, sep } from 'node:path';
import { readFileBeneath, resolveBeneath } from '../beneath/index.js';

export type PackageManagerName = 'npm' | 'pnpm' | 'yarn' | 'none';

/** What the build learned about the project before running anything. */
export interface Detected {
  packageManager: PackageManagerName;
  /** why: the lockfile name, "package.json", "packageManager field" or "no package.json" */
  reason: string;
  /** the lockfile's name in the root directory, when there is one */
  lockfile?: string | undefined;
  /** argv of the install step, or undefined when nothing is installed */
  install: string[] | undefined;
  /** argv that runs a package.json script: [...run, 'build'] */
  run: string[];
  hasBuildScript: boolean;
  /** the root package's own install lifecycle scripts, in the order npm runs them */
  installScripts: string[];
}

/**
 * Lockfile -> package manager, first match wins. pnpm and yarn run through corepack, which
 * also honours the `packageManager` field of package.json.
 */
const LOCKFILES: { file: string; pm: Exclude<PackageManagerName, 'none'> }[] = [
  { file: 'package-lock.json', pm: 'npm' },
  { file: 'npm-shrinkwrap.json', pm: 'npm' },
  { file: 'pnpm-lock.yaml', pm: 'pnpm' },
  { file: 'yarn.lock', pm: 'yarn' },
];

/** Commands per manager: with a lockfile the install must not change it; without one it may. */
const COMMANDS = {
  npm: { locked: ['npm', 'ci'], unlocked: ['npm', 'install'], run: ['npm', 'run'] },
  pnpm: { locked: ['corepack', 'pnpm', 'install', '--frozen-lockfile'], unlocked: ['corepack', 'pnpm', 'install'], run: ['corepack', 'pnpm', 'run'] },
  yarn: { locked: ['corepack', 'yarn', 'install', '--frozen-lockfile'], unlocked: ['corepack', 'yarn', 'install'], run: ['corepack', 'yarn', 'run'] },
  yarnBerry: { locked: ['corepack', 'yarn', 'install', '--immutable'], unlocked: ['corepack', 'yarn', 'install'], run: ['corepack', 'yarn', 'run'] },
} as const;

/**
 * Look at `dir` (the project's root directory) and decide how to install and build it. The
 * checkout's files are read without following a symlink out of `dir`: a committed
 * `package.json -> /somewhere` reads as no package.json.
 */
export async function detectProject(dir: string): Promise<Detected> {
  const pkg = await readPackageJson(dir);
  if (pkg === undefined) return { packageManager: 'none', reason: 'no package.json', install: undefined, run: [], hasBuildScript: false, installScripts: [] };

  const declared = /^(npm|pnpm|yarn)@(\d+)/.exec(typeof pkg.packageManager === 'string' ? pkg.packageManager : '');
  let pm: Exclude<PackageManagerName, 'none'> = 'npm';
  let lockfile: string | undefined;
  for (const row of LOCKFILES) {
    if ((await resolveBeneath(dir, row.file, { follow: true })).kind === 'file') {
      pm = row.pm;
      lockfile = row.file;
      break;
    }
  }
  if (lockfile === undefined && declared?.[1] !== undefined) pm = declared[1] as typeof pm;

  // yarn 2+ ("berry") spells the frozen install --immutable; its lockfile carries __metadata
  const berry = pm === 'yarn' && (Number(declared?.[1] === 'yarn' ? declared[2] : 1) >= 2 || (lockfile !== undefined && ((await readFileBeneath(dir, lockfile))?.toString('utf8') ?? '').includes('__metadata:')));
  const commands = COMMANDS[berry ? 'yarnBerry' : pm];
  const scripts = typeof pkg.scripts === 'object' && pkg.scripts !== null ? (pkg.scripts as Record<string, unknown>) : {};
  return {
    packageManager: pm,
    lockfile,
    reason: lockfile ?? (declared !== null ? `packageManager field "${String(pkg.packageManager)}"` : 'package.json without a lockfile'),
    install: [...(lockfile === undefined ? commands.unlocked : commands.locked)],
    run: [...commands.run],
    hasBuildScript: typeof scripts.build === 'string' && scripts.build.trim() !== '',
    installScripts: ['preinstall', 'install', 'postinstall', 'prepare'].filter((name) => typeof scripts[name] === 'string' && (scripts[name] as string).trim() !== ''),
  };
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
  return stat(path).then((s) => s.isFile(), () => false);
}

export async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}
