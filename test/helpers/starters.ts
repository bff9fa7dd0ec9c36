import { execFile } from 'node:child_process';
import { copyFile, cp, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fixturesDir, tempDir } from './paths.js';

const run = promisify(execFile);

/**
 * A real starter as a framework publishes it on the npm registry, described by
 * test/fixtures/starters/<name>/starter.json (SOURCE.md beside it says where it comes from):
 * - `create`: the framework's own `npm create` package, run non-interactively with its defaults
 *   spelled out, exactly as a new user gets the project (the project folder goes where `args`
 *   says `{dir}`, else first), then its `after` commands in that folder (`sv add` an adapter);
 * - `copy`: a template folder inside a published package (for create tools that only ask
 *   questions), with the renames the tool itself makes;
 * - `pin`: package.json entries changed from what the starter publishes, only where this
 *   registry lacks a platform package (SOURCE.md says why).
 * The starter's files are not committed here: they are taken from the registry at an exact
 * version each time, and the fixture keeps the lockfile generated for them.
 */
export interface StarterSource {
  /** `after`: more commands of the same package, run in the project folder (`["add", "sveltekit-adapter=adapter:node", "--no-install"]`) */
  /** `bin`: the package's command when it is not the package's name (`ng` for @angular/cli) */
  create?: { package: string; bin?: string; args: string[]; after?: string[][] };
  copy?: { package: string; from: string; rename?: Record<string, string> };
  pin?: Record<string, Record<string, string>>;
}

export const startersDir = join(fixturesDir, 'starters');

const NPM_ENV = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };

/**
 * Write starter `name` into `dest` (which must not exist yet), with its committed
 * package-lock.json unless `withLockfile` is false.
 * `await materializeStarter('vite-react-ts', join(dir, 'work'))`
 */
export async function materializeStarter(name: string, dest: string, withLockfile = true): Promise<void> {
  const source = JSON.parse(await readFile(join(startersDir, name, 'starter.json'), 'utf8')) as StarterSource;
  const scratch = await tempDir('slipway-starter-');
  try {
    if (source.create !== undefined) {
      // a fresh config home: create tools that remember a user's last answers (create-next-app) start from their defaults
      const env = { ...NPM_ENV, XDG_CONFIG_HOME: join(scratch.path, 'config'), CI: '1', NG_CLI_ANALYTICS: 'false' };
      const bin = source.create.bin ?? source.create.package.replace(/@[^@/]+$/, '');
      const args = source.create.args.includes('{dir}') ? source.create.args.map((a) => (a === '{dir}' ? name : a)) : [name, ...source.create.args];
      await run('npm', ['exec', '--yes', `--package=${source.create.package}`, '--', bin, ...args], { cwd: scratch.path, env, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 });
      for (const more of source.create.after ?? []) {
        await run('npm', ['exec', '--yes', `--package=${source.create.package}`, '--', bin, ...more], { cwd: join(scratch.path, name), env, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 });
      }
      await mkdir(dest, { recursive: true });
      await cp(join(scratch.path, name), dest, { recursive: true });
    } else if (source.copy !== undefined) {
      const { stdout } = await run('npm', ['pack', source.copy.package, '--json', '--pack-destination', scratch.path], { cwd: scratch.path, env: NPM_ENV, timeout: 180_000 });
      const tarball = (JSON.parse(stdout) as { filename: string }[])[0]!.filename;
      await run('tar', ['-xzf', join(scratch.path, tarball), '-C', scratch.path], { timeout: 60_000 });
      await mkdir(dest, { recursive: true });
      await cp(join(scratch.path, 'package', source.copy.from), dest, { recursive: true });
      for (const [from, to] of Object.entries(source.copy.rename ?? {})) await renameEverywhere(dest, from, to);
    } else {
      throw new Error(`${name}/starter.json names neither "create" nor "copy"`);
    }
    if (source.pin !== undefined) {
      const pkgPath = join(dest, 'package.json');
      const pkg = JSON.parse(await readFile(pkgPath, 'utf8')) as Record<string, Record<string, string> | undefined>;
      for (const [field, entries] of Object.entries(source.pin)) pkg[field] = { ...pkg[field], ...entries };
      await writeFile(pkgPath, `${JSON.stringify(pkg, null, 2)}\n`);
    }
    if (withLockfile) await copyFile(join(startersDir, name, 'package-lock.json'), join(dest, 'package-lock.json'));
  } finally {
    await scratch.cleanup();
  }
}

/** Generate the starter's package-lock.json here (no scripts run) and store it in its fixture folder. */
export async function lockStarter(name: string): Promise<void> {
  const dir = await tempDir('slipway-starter-lock-');
  try {
    const app = join(dir.path, name);
    await materializeStarter(name, app, false);
    await run('npm', ['install', '--package-lock-only', '--ignore-scripts'], { cwd: app, env: NPM_ENV, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
    await copyFile(join(app, 'package-lock.json'), join(startersDir, name, 'package-lock.json'));
  } finally {
    await dir.cleanup();
  }
}

async function renameEverywhere(dir: string, from: string, to: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await renameEverywhere(path, from, to);
    else if (entry.name === from) await rename(path, join(dir, to));
  }
}
