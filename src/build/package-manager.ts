import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AppError } from '../errors/index.js';
import { readFileBeneath } from '../beneath/index.js';

export type ManagerName = 'npm' | 'pnpm' | 'yarn' | 'bun';

/** Which package manager, which version of it, and why. */
export interface ManagerChoice {
  name: ManagerName;
  /**
   * what is asked for: a major ("9"), an exact version ("9.15.0") or the field's spec with its
   * hash ("4.5.0+sha512.ab..."); for npm without a packageManager field the host's npm's version
   */
  version: string;
  /** "pnpm 9 from pnpm-lock.yaml lockfileVersion 9.0" */
  reason: string;
  /** yarn 2+: frozen installs say --immutable and the install state lives outside node_modules */
  berry: boolean;
}

/** The lockfiles, first found wins when package.json names no manager. */
export const LOCKFILES: { file: string; pm: ManagerName }[] = [
  { file: 'package-lock.json', pm: 'npm' },
  { file: 'npm-shrinkwrap.json', pm: 'npm' },
  { file: 'pnpm-lock.yaml', pm: 'pnpm' },
  { file: 'yarn.lock', pm: 'yarn' },
  { file: 'bun.lock', pm: 'bun' },
  { file: 'bun.lockb', pm: 'bun' },
];

/**
 * pnpm-lock.yaml's lockfileVersion -> the pnpm major that writes it (Vercel's and Netlify's
 * table): 5.3 is pnpm 6, 5.4 pnpm 7, 6.x pnpm 8, 9.0 pnpm 9 (and 10, see pnpmForV9). Older 5.x
 * files are read by pnpm 6 too; 7.0 was only written by pnpm 9's pre-releases.
 */
function pnpmMajorFor(lockfileVersion: string): number | undefined {
  const [major, minor] = lockfileVersion.split('.').map(Number) as [number, number | undefined];
  if (major === 5) return (minor ?? 0) >= 4 ? 7 : 6;
  if (major === 6) return 8;
  if (major === 7 || major === 9) return 9;
  return undefined;
}

/**
 * pnpm 9 and 10 both write lockfileVersion 9.0. pnpm 9 is the one the lockfile format was made
 * for, and it runs dependency build scripts as the project knew them; pnpm 10 is needed only when
 * pnpm-workspace.yaml carries settings pnpm 9 does not read there (the build-script allow-lists):
 * pnpm 9 would ignore them and run every script. Newer pnpm (11, 12) is never guessed: it turns
 * skipped build scripts into an error and moved the store, so a v9 project breaks on it.
 */
const PNPM10_WORKSPACE_SETTINGS = /^(onlyBuiltDependencies|ignoredBuiltDependencies|neverBuiltDependencies|allowBuilds|strictDepBuilds)\s*:/m;

/**
 * yarn.lock's `__metadata.version` -> the newest yarn that still writes it (read from each
 * release's own LOCKFILE_VERSION): a newer yarn rewrites the lockfile, which a frozen
 * (--immutable) install refuses. 4 and older: yarn 2; 5: 3.1; 6: 3.x; 7 (4.0 release candidates)
 * and 8: 4.13; 9: 4.14; 10: 4.15 and later.
 */
function yarnFor(metadataVersion: number): string {
  if (metadataVersion <= 4) return '2';
  if (metadataVersion === 5) return '3.1';
  if (metadataVersion === 6) return '3';
  if (metadataVersion <= 8) return '4.13';
  if (metadataVersion === 9) return '4.14';
  return '4';
}

const FIELD = /^(npm|pnpm|yarn|bun)@(\d+(?:\.\d+){0,2}(?:[-+][\w.+-]*)?)$/;

/**
 * Decide the package manager and its version for the project at `dir`: the `packageManager`
 * field of package.json wins; otherwise the lockfile found (`lockfile`, one of LOCKFILES) and
 * what it says about its format; otherwise the host's npm.
 * Throws VALIDATION for a `packageManager` field that is not `name@version`.
 */
export async function chooseManager(dir: string, pkg: Record<string, unknown>, lockfile: string | undefined): Promise<ManagerChoice> {
  const field = pkg.packageManager;
  if (field !== undefined) {
    const m = typeof field === 'string' ? FIELD.exec(field.trim()) : null;
    if (m === null) {
      throw new AppError('VALIDATION', `package.json "packageManager": ${JSON.stringify(field)} is not a package manager and version.`, {
        hint: 'Write it as corepack reads it, e.g. "packageManager": "pnpm@9.15.0" (npm, pnpm, yarn or bun), or remove it.',
      });
    }
    const name = m[1] as ManagerName;
    const version = m[2] as string;
    const why = `packageManager field "${field as string}"`;
    // npm too: corepack fetches that release (setUpManager), unless it is the host's own
    if (name === 'npm' && version === hostNpmVersion()) return { name, version, reason: `npm ${version} from the ${why} (the host's own npm)`, berry: false };
    return { name, version, reason: `${name} ${version.replace(/\+.*/, '')} from the ${why}`, berry: name === 'yarn' && Number(version.split('.')[0]) >= 2 };
  }
  const text = async (rel: string) => (await readFileBeneath(dir, rel))?.toString('utf8') ?? '';
  if (lockfile === 'pnpm-lock.yaml') {
    const declared = /^lockfileVersion:\s*['"]?([\d.]+)['"]?\s*$/m.exec(await text(lockfile))?.[1];
    if (declared === undefined) return { name: 'pnpm', version: '9', reason: 'pnpm 9 for pnpm-lock.yaml without a lockfileVersion', berry: false };
    const major = pnpmMajorFor(declared);
    if (major === undefined) {
      throw new AppError('BUILD_FAILED', `pnpm-lock.yaml has lockfileVersion ${declared}, which no pnpm Slipway knows reads (5.x, 6.x and 9.0 are known).`, {
        hint: 'Name the pnpm that wrote it in package.json, e.g. "packageManager": "pnpm@10.12.1".',
      });
    }
    if (major === 9 && PNPM10_WORKSPACE_SETTINGS.test(await text('pnpm-workspace.yaml'))) {
      return { name: 'pnpm', version: '10', reason: `pnpm 10 from pnpm-lock.yaml lockfileVersion ${declared} and pnpm-workspace.yaml's build-script settings (pnpm 9 ignores them)`, berry: false };
    }
    return { name: 'pnpm', version: String(major), reason: `pnpm ${major} from pnpm-lock.yaml lockfileVersion ${declared}`, berry: false };
  }
  if (lockfile === 'yarn.lock') {
    const lock = await text(lockfile);
    const metadata = /^__metadata:\s*\n\s+version:\s*(\d+)/m.exec(lock);
    if (metadata === null) {
      const classic = /^# yarn lockfile v1\s*$/m.test(lock);
      return { name: 'yarn', version: '1', reason: classic ? 'yarn 1 (classic) from yarn.lock\'s "# yarn lockfile v1" header' : 'yarn 1 (classic) for a yarn.lock without __metadata', berry: false };
    }
    // a committed yarnPath is the release the project runs: yarn itself hands over to it
    const yarnPath = /^yarnPath:\s*['"]?([^'"\n]+?)['"]?\s*$/m.exec(await text('.yarnrc.yml'))?.[1];
    const pinned = yarnPath === undefined ? undefined : /yarn-(\d+\.\d+\.\d+(?:-[\w.]+)?)\.c?js$/.exec(yarnPath)?.[1];
    if (pinned !== undefined) return { name: 'yarn', version: pinned, reason: `yarn ${pinned} from .yarnrc.yml yarnPath ${yarnPath as string}`, berry: true };
    const version = yarnFor(Number(metadata[1]));
    return { name: 'yarn', version, reason: `yarn ${version} from yarn.lock __metadata version ${metadata[1] as string}`, berry: true };
  }
  if (lockfile === 'bun.lock' || lockfile === 'bun.lockb') return { name: 'bun', version: '1', reason: `bun 1 from ${lockfile}`, berry: false };
  const npm = hostNpmVersion();
  return { name: 'npm', version: npm, reason: lockfile === undefined ? `npm ${npm} (package.json without a lockfile)` : `npm ${npm} from ${lockfile}`, berry: false };
}

/** Commands per manager: with a lockfile the install must not change it; without one it may. */
export function managerCommands(choice: ManagerChoice, locked: boolean): { install: string[]; run: string[] } {
  if (choice.name === 'npm') return { install: locked ? ['npm', 'ci'] : ['npm', 'install'], run: ['npm', 'run'] };
  if (choice.name === 'bun') return { install: locked ? ['bun', 'install', '--frozen-lockfile'] : ['bun', 'install'], run: ['bun', 'run'] };
  // corepack is given the exact spec, so it never falls back to the newest release it knows
  const spec = `${choice.name}@${choice.version}`;
  const frozen = choice.berry ? '--immutable' : '--frozen-lockfile';
  return { install: ['corepack', spec, 'install', ...(locked ? [frozen] : [])], run: ['corepack', spec, 'run'] };
}

/** The host npm's version, read from its own package.json next to node. */
let npmVersion: string | undefined;
export function hostNpmVersion(): string {
  if (npmVersion !== undefined) return npmVersion;
  for (const candidate of [join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'package.json'), join(dirname(process.execPath), 'node_modules', 'npm', 'package.json')]) {
    try {
      npmVersion = String((JSON.parse(readFileSync(candidate, 'utf8')) as { version?: unknown }).version);
      return npmVersion;
    } catch {
      // not this layout
    }
  }
  npmVersion = 'unknown';
  return npmVersion;
}
