import { constants } from 'node:fs';
import { copyFile, link, lstat, mkdir, open, readdir, readlink, realpath, rm, symlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize, relative, sep } from 'node:path';
import { AppError } from '../errors/index.js';
import type { FrameworkMatch } from '../frameworks/index.js';
import { isWithin, resolveBeneath, type Beneath } from '../beneath/index.js';
import { copyTree } from './cache-tree.js';
import { OUTPUT_CANDIDATES } from './detect.js';
import { changesSince, type OutputSnapshot } from './output-snapshot.js';
import { assembleWorkspaceBundle, nextStandaloneEntry, refusePlugAndPlay, type WorkspaceBundle } from './server-bundle.js';
import type { ServerBuild } from './types.js';

/** Folder (inside the checkout) where the static mounts of a server build are assembled. */
const STAGING = '.slipway-static';

/**
 * Where a finished build's files are: the static folder the edge serves and, for server
 * frameworks, the server bundle the runtime runs. A project's outputDirectory wins ("." is the
 * root, said explicitly); then the framework's folder. After a build (`built`, taken just
 * before it ran) the only other folder served is one of dist, build, out, public that the build
 * created or changed: never the root, never a folder that was there before and is unchanged
 * (VitePress's `public/` of source files). Without a build step the files are served as
 * committed: the root of a plain HTML site, else the first of those folders, else the root.
 *
 * The build made these folders, so every path is resolved from `within` (the checkout, default
 * rootDir) without leaving it (beneath.ts): a folder that is a symlink is followed only while it
 * stays inside, and the paths returned have no symlink in them.
 */
export async function locateOutput(
  rootDir: string,
  framework: FrameworkMatch,
  override: string | undefined,
  log: (line: string) => void,
  within: string = rootDir,
  built?: OutputSnapshot,
  workspace?: WorkspaceBundle,
): Promise<{ outputRel: string; outputDir: string; server?: ServerBuild }> {
  const find = new CheckoutPaths(within, rootDir, log);
  if (override !== undefined) {
    if (override === '') return { outputRel: '', outputDir: await find.root() };
    const found = await find.resolve(override, true);
    if (found.kind === 'outside') {
      throw new AppError('OUTPUT_NOT_FOUND', `Output directory "${override}" points outside the repository (through the symlink ${found.at}).`, {
        hint: 'Set outputDirectory to the folder your build writes inside the project; Slipway does not follow links out of it.',
      });
    }
    const dir = found.kind === 'dir' ? found.path : undefined;
    if (dir === undefined) {
      throw new AppError('OUTPUT_NOT_FOUND', `The build did not produce the output directory "${override}".`, {
        hint: 'Check the build log for the folder your build writes (often dist, build or out) and set outputDirectory to it, relative to the root directory.',
      });
    }
    return { outputRel: override, outputDir: dir };
  }
  const changes = built === undefined ? undefined : await changesSince(await find.root(), built);
  if (framework.unservable !== undefined) {
    throw outputMissing(`${framework.unservable.message}${changes === undefined ? '' : ` ${describeChanges(changes)}`}`, framework.unservable.hint);
  }
  if (framework.server !== undefined) return serverOutput(find, framework, log, changes, workspace);
  const frameworkDir = framework.outputDirectory === '' ? undefined : await find.folder(framework.outputDirectory);
  if (frameworkDir !== undefined) return { outputRel: framework.outputDirectory, outputDir: frameworkDir };
  if (changes === undefined) {
    // nothing was built: the files as committed
    if (framework.outputDirectory === '' && (await find.hasFile('index.html'))) return { outputRel: '', outputDir: await find.root() };
    for (const name of OUTPUT_CANDIDATES) {
      const dir = await find.folder(name);
      if (dir !== undefined) return { outputRel: name, outputDir: dir };
    }
    return { outputRel: '', outputDir: await find.root() };
  }
  const unchanged: string[] = [];
  for (const name of OUTPUT_CANDIDATES) {
    const made = changes.created.includes(name) || changes.changed.includes(name);
    const dir = await find.folder(name);
    if (dir !== undefined && made) {
      if (framework.outputDirectory !== '') log(`Warning: ${framework.outputDirectory} is missing; serving ${name}, which the build ${changes.created.includes(name) ? 'created' : 'changed'}`);
      return { outputRel: name, outputDir: dir };
    }
    if (dir !== undefined) unchanged.push(`${name}/`);
  }
  const expected = framework.outputDirectory === '' ? '' : `${framework.name} writes its site to ${framework.outputDirectory}, which the build did not create. `;
  const stale =
    unchanged.length === 0
      ? ''
      : ` ${unchanged.join(', ')} ${unchanged.length === 1 ? 'was' : 'were'} there before the build and unchanged, so ${unchanged.length === 1 ? 'it is' : 'they are'} not build output.`;
  throw outputMissing(
    `The build wrote no folder to serve. ${expected}${describeChanges(changes)}${stale}`,
    'Set outputDirectory to the folder your build writes (relative to the root directory), or to "." to serve the repository as it is.',
  );
}

/** OUTPUT_NOT_FOUND whose message says what to do too: the deployment's error and the build log show the message only */
function outputMissing(message: string, hint: string): AppError {
  return new AppError('OUTPUT_NOT_FOUND', `${message} ${hint}`, { hint });
}

/** 'The build created .svelte-kit/ and changed nothing else at the top of the project.' */
function describeChanges(changes: { created: string[]; changed: string[] }): string {
  const list = (names: string[]): string => (names.length === 0 ? 'nothing' : names.slice(0, 6).join(', ') + (names.length > 6 ? ` and ${names.length - 6} more` : ''));
  return `At the top of the project (besides node_modules) the build created ${list(changes.created)} and changed ${list(changes.changed)}.`;
}

/** Paths below a project's root directory, resolved from the checkout that holds it. */
class CheckoutPaths {
  constructor(
    readonly within: string,
    readonly rootDir: string,
    private readonly log: (line: string) => void,
  ) {}

  resolve(rel: string, follow: boolean): Promise<Beneath> {
    return resolveBeneath(this.within, join(relative(this.within, this.rootDir), rel), { follow });
  }

  /** the real folder at `rel`, or undefined (missing, not a folder, or a link leading out of the checkout, which is logged) */
  async folder(rel: string): Promise<string | undefined> {
    const found = await this.resolve(rel, true);
    if (found.kind === 'outside') this.log(`Warning: ignored ${rel}: the symlink ${found.at} points outside the project`);
    return found.kind === 'dir' ? found.path : undefined;
  }

  /** whether a file (or a symlink to one, inside the checkout) is at `rel` */
  async hasFile(rel: string): Promise<boolean> {
    return (await this.resolve(rel, true)).kind === 'file';
  }

  /** the root directory itself, which must still be a real folder: a build may not swap it (or a folder above it) for a link */
  async root(): Promise<string> {
    const found = await this.resolve('', false);
    if (found.kind !== 'dir') throw new AppError('OUTPUT_NOT_FOUND', `The build replaced the root directory${found.kind === 'link' ? ` (${found.at})` : ''} with something that is not a folder.`);
    return found.path;
  }
}

/**
 * A server build: the bundle to run, and its static folders hard-linked together into one tree
 * laid out by URL (Next.js: `.next/static` under `_next/static`, `public/` at the root).
 */
async function serverOutput(
  find: CheckoutPaths,
  framework: FrameworkMatch,
  log: (line: string) => void,
  changes: { created: string[]; changed: string[] } | undefined,
  workspace: WorkspaceBundle | undefined,
): Promise<{ outputRel: string; outputDir: string; server: ServerBuild }> {
  const server = framework.server!;
  const rootDir = await find.root();
  const bundleRel = server.bundleDir ?? '';
  let entryPath = server.entry;
  // Next.js traced from the workspace root: server.js is below the package's path in the bundle
  const relocated =
    server.kind === 'nextjs-standalone' && bundleRel !== '' && !(await find.hasFile(entryPath))
      ? await nextStandaloneEntry(find.within, relative(find.within, rootDir).split(sep).join('/'), bundleRel)
      : undefined;
  if (relocated !== undefined) {
    log(`Next.js traced the standalone output from the workspace root: its server is ${relocated}`);
    entryPath = relocated;
  }
  if (!(await find.hasFile(entryPath))) {
    const top = server.entry.split('/')[0]!;
    const none = (await find.resolve(top, false)).kind === 'missing';
    const found = changes === undefined ? '' : ` ${describeChanges(changes)}`;
    if (server.kind === 'nextjs-standalone' && none) {
      throw outputMissing(
        `The build wrote no ${top} folder, so it did not run "next build".${found}`,
        'Make the build script run "next build" (or set buildCommand to it); for a static site set output: "export" in next.config.',
      );
    }
    const hint =
      server.kind === 'nextjs-standalone'
        ? 'Slipway builds Next.js with standalone output; if your next.config sets another "output", remove it or set output: "standalone".'
        : server.kind === 'nuxt-nitro' || server.kind === 'nitro-node'
          ? `${framework.name} writes ${server.entry} with Nitro's node-server preset: remove a nitro preset for another platform from the config (or NITRO_PRESET from the environment), or build a static site (Nuxt: "nuxt generate").`
          : `Check that the build writes ${server.entry} (the ${framework.name} Node adapter's server entry).`;
    throw outputMissing(`The build did not produce the server entry ${server.entry}${none ? ` (there is no ${top} at all)` : ''}.${found}`, hint);
  }
  // Self-contained bundles run from their own folder; the rest need the project's node_modules
  // (in a workspace: the root's too, so the bundle is the workspace's, laid out as it is).
  let bundleDir = bundleRel === '' ? rootDir : await find.folder(bundleRel);
  if (bundleDir === undefined) throw new AppError('OUTPUT_NOT_FOUND', `The server bundle folder ${bundleRel} is not a folder inside the project.`);
  let prefix = '';
  if (bundleRel === '')
    await refusePlugAndPlay(
      find.within,
      relative(find.within, workspace?.dir ?? rootDir)
        .split(sep)
        .join('/'),
      framework.name,
    );
  if (bundleRel === '' && workspace !== undefined) ({ bundleDir, prefix } = await assembleWorkspaceBundle(workspace, log));
  const inBundle = (rel: string) => (prefix === '' ? rel : `${prefix}/${rel}`);
  let entry = bundleRel === '' ? inBundle(entryPath) : entryPath.slice(bundleRel.length + 1);
  let args: string[] = [];
  const [command = 'node', ...rest] = server.start;
  if (command !== 'node') {
    // a tool such as react-router-serve (only in root bundles, whose paths are the start's paths): the runtime
    // runs node, so run the tool's script; in a workspace the package's own .bin first, then the root's
    const own = inBundle(command);
    const hoisted =
      prefix !== '' &&
      !(await lstat(join(bundleDir, own)).then(
        () => true,
        () => false,
      ));
    entry = await resolveBin(bundleDir, hoisted ? command : own, server.startPackage);
    // the server runs from the bundle's root: the tool's path arguments are the package's
    args = rest.map(inBundle);
  }

  // made afresh by us: whatever the checkout or the build put under this name (a symlink to the data dir) goes
  const staging = join(rootDir, STAGING);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging);
  const mounts = [...server.mounts].sort((a, b) => a.urlPath.length - b.urlPath.length);
  for (const mount of mounts) {
    const from = await find.folder(mount.dir);
    if (from === undefined) continue;
    const to = join(staging, normalize(`/${mount.urlPath}`));
    const dropped: string[] = [];
    if ((await lstat(to).catch(() => undefined))?.isDirectory() === true) {
      // two folders under one URL path (SvelteKit's client files and prerendered pages): merged file by file
      const clashes: string[] = [];
      await mergeTree(from, to, '', { clashes, dropped, mountDir: from });
      if (clashes.length > 0)
        log(`Warning: ${mount.dir} and another static folder both have ${clashes[0]}${clashes.length > 1 ? ` (and ${clashes.length - 1} more)` : ''} under ${mount.urlPath}; keeping the first.`);
    } else {
      await mkdir(dirname(to), { recursive: true });
      // the static files are the build's data: its links are kept only when they stay in the folder
      dropped.push(...(await copyTree(from, to, { op: 'link', links: { at: from, within: from } })).dropped);
    }
    if (dropped.length > 0) log(`Warning: skipped ${mount.dir}/${dropped[0]}${dropped.length > 1 ? ` (and ${dropped.length - 1} more)` : ''}: a symlink pointing outside ${mount.dir}`);
  }
  const runs = [`${bundleRel === '' || prefix !== '' ? '' : `${bundleRel}/`}${entry}`, ...args].join(' ');
  log(`Server output: ${framework.name} server node ${runs}${command === 'node' ? '' : ` (${command})`}; static files from ${mounts.map((m) => `${m.dir} → ${m.urlPath}`).join(', ') || 'none'}`);
  return { outputRel: STAGING, outputDir: staging, server: { kind: server.kind, bundleDir, entry, args, start: relocated === undefined ? server.start : ['node', relocated] } };
}

/**
 * Hard-link the tree `from` into the existing folder `to` (both without following links); paths
 * `to` already has are left as they are and listed in `clashes`, symlinks leading out of the
 * mount folder are left out and listed in `dropped`.
 */
async function mergeTree(from: string, to: string, rel: string, out: { clashes: string[]; dropped: string[]; mountDir: string }): Promise<void> {
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const src = join(from, entry.name);
    const dst = join(to, entry.name);
    const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
    const there = await lstat(dst).catch(() => undefined);
    if (there === undefined) {
      if (entry.isDirectory()) out.dropped.push(...(await copyTree(src, dst, { op: 'link', links: { at: src, within: out.mountDir } })).dropped.map((d) => `${path}/${d}`));
      else if (entry.isSymbolicLink()) {
        const raw = await readlink(src);
        const target = isAbsolute(raw) ? normalize(raw) : join(from, raw);
        if (isWithin(out.mountDir, target)) await symlink(relative(from, target) || '.', dst);
        else out.dropped.push(path);
      } else if (entry.isFile()) await link(src, dst).catch(() => copyFile(src, dst));
    } else if (entry.isDirectory() && there.isDirectory()) await mergeTree(src, dst, path, out);
    else out.clashes.push(path);
  }
}

/** pnpm's .bin entries are shell scripts ending in `exec node "$basedir/<script>" "$@"` */
const PNPM_SHIM = /^\s*exec node\s+"\$basedir\/([^"$`\\]+)" "\$@"\s*$/m;

/**
 * The script a `node_modules/.bin/<tool>` runs, relative to the bundle ('/'-separated), so the
 * runtime can start it with node: npm and yarn make the .bin entry a symlink (to
 * `../@react-router/serve/bin.js`), pnpm a shell script that execs node on the script. The
 * script must lie inside the bundle once every link is followed, since the bundle is all the
 * server gets; a missing tool names the package to add (`startPackage`).
 * `await resolveBin(root, 'node_modules/.bin/react-router-serve')` → 'node_modules/@react-router/serve/bin.js'
 */
export async function resolveBin(bundleDir: string, bin: string, startPackage?: string): Promise<string> {
  const tool = basename(bin);
  const root = await realpath(bundleDir);
  const where = async (path: string): Promise<string> => {
    let real: string;
    try {
      real = await realpath(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      throw new AppError('OUTPUT_NOT_FOUND', `The server is started with ${tool}, but ${bin} is not installed.`, {
        hint: `Add ${startPackage ?? `the package that provides ${tool}`} to "dependencies" in package.json (not devDependencies) and commit the updated lockfile.`,
      });
    }
    const rel = relative(root, real);
    if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
      throw new AppError('OUTPUT_NOT_FOUND', `${bin} points outside the project (to ${real}), so the server cannot run from its bundle.`, {
        hint: `Install ${startPackage ?? tool} into the project's own node_modules (not a global or linked copy).`,
      });
    }
    return rel.split(sep).join('/');
  };
  const found = await where(join(bundleDir, bin));
  const shim = PNPM_SHIM.exec(await readHead(join(root, found)));
  return shim === null ? found : where(join(dirname(join(bundleDir, bin)), shim[1]!));
}

/** a shell script's first 64 KiB (pnpm's shims are a few), or '' for anything else */
async function readHead(path: string): Promise<string> {
  const file = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(65536), 0, 65536, 0);
    const text = buffer.subarray(0, bytesRead).toString('utf8');
    return text.startsWith('#!/bin/sh') ? text : '';
  } finally {
    await file.close();
  }
}
