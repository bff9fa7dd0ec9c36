import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../errors/index.js';
import { hostNpmVersion, type ManagerChoice } from './package-manager.js';

/** How the build runs one command: `capture` collects the output instead of logging it. */
export type ExecFn = (label: string, argv: string[], opts?: { watch?: RegExp; capture?: string[] }) => Promise<{ code: number; tail: string[]; matched: boolean }>;

export interface SetupContext {
  exec: ExecFn;
  /** the build's environment: corepack's switches are set here for the commands that follow */
  env: Record<string, string>;
  log: (line: string) => void;
  /** a per-build folder on the build's PATH, for the manager's shims */
  binDir: string;
  /** the project's package-manager cache folder (bun is installed below it) */
  cacheDir: string;
}

/** corepack's words when the registry's package carries no signature it can check */
const COREPACK_UNSIGNED = /No compatible signature found|Signature does not match/;

/**
 * Make the chosen manager runnable and return the exact version that runs. pnpm, yarn and a
 * packageManager field's npm (other than the host's own) come through corepack, asked for
 * `name@version` so it never takes the newest; corepack checks the release against the
 * registry's integrity (and the field's hash) and keeps it in COREPACK_HOME, the project's
 * package-manager cache, so later builds fetch nothing. bun is installed from
 * its platform package. A `pnpm` / `yarn` / `bun` shim in `binDir` makes scripts that call the
 * manager by name (`"build": "pnpm run a && pnpm run b"`) get the same version.
 */
export async function setUpManager(choice: ManagerChoice, ctx: SetupContext): Promise<string> {
  if (choice.name === 'npm' && choice.version === hostNpmVersion()) return choice.version;
  if (choice.name === 'bun') return setUpBun(choice, ctx);
  if ((choice.name === 'yarn' || choice.name === 'npm') && ctx.env.COREPACK_NPM_REGISTRY === undefined) {
    // corepack resolves yarn versions (and fetches yarn 2+) from yarn's own release host unless told to use the npm registry;
    // npm releases from the registry the host's npm is set up for, a mirror included
    const registry = await hostRegistry();
    if (registry !== undefined) ctx.env.COREPACK_NPM_REGISTRY = registry.replace(/\/+$/, '');
  }
  const spec = `${choice.name}@${choice.version}`;
  const exact = await corepackFetch(spec, ctx);
  // the hash of a packageManager spec was checked by the fetch; later runs use the version alone
  const runSpec = `${choice.name}@${exact ?? choice.version.replace(/\+.*/, '')}`;
  // npm's shim replaces the host's (nodejs writeToolShims): `npm ci`, `npm run` and the scripts' own npm calls all get this release
  await writeShim(ctx.binDir, choice.name, ['corepack', runSpec]);
  if (choice.name === 'pnpm') await writeShim(ctx.binDir, 'pnpx', ['corepack', runSpec, 'dlx']);
  if (choice.name === 'npm') await writeShim(ctx.binDir, 'npx', ['corepack', `npx@${exact ?? choice.version.replace(/\+.*/, '')}`]);
  return exact ?? choice.version;
}

/**
 * `corepack <spec> --version`, which downloads the manager once into COREPACK_HOME. A registry
 * mirror that serves packages without the npm registry's signatures makes corepack refuse them;
 * then the download is retried without the signature check (still over TLS from the same
 * registry). The first attempt's output (a stack trace) is kept back and shown only when the
 * retry fails too. Returns the version corepack printed.
 */
async function corepackFetch(spec: string, ctx: SetupContext): Promise<string | undefined> {
  const label = `corepack ${spec} --version`;
  const argv = ['corepack', spec, '--version'];
  const first: string[] = [];
  const tried = await ctx.exec(label, argv, { watch: COREPACK_UNSIGNED, capture: first });
  if (tried.code === 0) return versionIn(first);
  if (!tried.matched) {
    for (const line of first) ctx.log(line);
    throw setupFailed(label, tried.code, first);
  }
  ctx.env.COREPACK_INTEGRITY_KEYS = '0';
  const second: string[] = [];
  const retried = await ctx.exec(`${label} (without the signature check)`, argv, { capture: second });
  if (retried.code !== 0) {
    ctx.log('corepack failed with the signature check:');
    for (const line of first) ctx.log(line);
    ctx.log('and without it:');
    for (const line of second) ctx.log(line);
    throw setupFailed(label, retried.code, second);
  }
  ctx.log(`Fetched ${spec} without corepack's signature check: the registry serves it without signatures corepack knows`);
  return versionIn(second);
}

/** bun's platform packages on the npm registry carry the binary itself */
function bunPackage(): string {
  const arch = process.arch === 'arm64' ? 'aarch64' : 'x64';
  // bun's default x64 build needs AVX2; the "baseline" one runs on any x64
  let baseline = false;
  if (arch === 'x64') {
    try {
      baseline = !/\bavx2\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
    } catch {
      baseline = true;
    }
  }
  return `@oven/bun-linux-${arch}${baseline ? '-baseline' : ''}`;
}

/**
 * Install bun's binary with the host's npm into the project's cache folder, inside the build's
 * sandbox: that folder is the build's to write, so the host never writes or follows anything
 * there, and the download runs with the same network and limits as the install that follows.
 * Scripts stay off: the platform package is the binary and nothing else.
 */
async function setUpBun(choice: ManagerChoice, ctx: SetupContext): Promise<string> {
  const pkg = bunPackage();
  const folder = join(ctx.cacheDir, 'tools', 'bun');
  const spec = `${pkg}@${choice.version}`;
  const label = `npm install ${spec}`;
  const output: string[] = [];
  const installed = await ctx.exec(label, ['npm', 'install', '--prefix', folder, '--no-save', '--no-package-lock', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', spec], {
    capture: output,
  });
  if (installed.code !== 0) {
    for (const line of output) ctx.log(line);
    throw setupFailed(label, installed.code, output, `bun could not be installed from the registry's ${pkg}; set an installCommand, or commit a package-lock.json instead`);
  }
  const binary = join(folder, 'node_modules', ...pkg.split('/'), 'bin', 'bun');
  const version: string[] = [];
  const ran = await ctx.exec('bun --version', [binary, '--version'], { capture: version });
  if (ran.code !== 0) throw setupFailed('bun --version', ran.code, version);
  await writeShim(ctx.binDir, 'bun', [binary]);
  await writeShim(ctx.binDir, 'bunx', [binary, 'x']);
  return versionIn(version) ?? choice.version;
}

function versionIn(lines: string[]): string | undefined {
  for (let i = lines.length - 1; i >= 0; i -= 1) {
    const m = /^v?(\d+\.\d+\.\d+(?:-[\w.]+)?)\s*$/.exec((lines[i] as string).trim());
    if (m !== null) return m[1];
  }
  return undefined;
}

/** A tiny script `name` that runs argv with its own arguments; argv holds no quote or space from the checkout. */
async function writeShim(binDir: string, name: string, argv: string[]): Promise<void> {
  const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const file = join(binDir, name);
  await writeFile(file, `#!/bin/sh\nexec ${quoted} "$@"\n`);
  await chmod(file, 0o755);
}

/** The registry the host's npm is set up for, read once (from "/", so no checkout's .npmrc counts). */
let registry: Promise<string | undefined> | undefined;
function hostRegistry(): Promise<string | undefined> {
  registry ??= new Promise((resolve) => {
    execFile('npm', ['config', 'get', 'registry'], { cwd: '/', timeout: 15_000 }, (err, stdout) => {
      const value = stdout.trim();
      resolve(err === null && /^https?:\/\//.test(value) ? value : undefined);
    });
  });
  return registry;
}

function setupFailed(label: string, code: number, tail: string[], hint?: string): AppError {
  const lines = tail.slice(-20);
  return new AppError('BUILD_FAILED', `Command "${label}" exited with code ${code}${lines.length > 0 ? `\n${lines.join('\n')}` : ''}`, hint === undefined ? undefined : { hint });
}
