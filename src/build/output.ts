import { access, copyFile, link, lstat, mkdir, open, readdir, readlink, realpath, symlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import { AppError } from '../errors/index.js';
import type { FrameworkMatch } from '../frameworks/index.js';
import { copyTree } from './cache-tree.js';
import { detectOutputDir, isDirectory } from './detect.js';
import type { ServerBuild } from './types.js';

/** Folder (inside the checkout) where the static mounts of a server build are assembled. */
const STAGING = '.slipway-static';

/**
 * Where a finished build's files are: the static folder the edge serves and, for server
 * frameworks, the server bundle the runtime runs. A project's outputDirectory wins; then the
 * framework's; then the first of dist, build, out, public; else the root (plain HTML).
 */
export async function locateOutput(
  rootDir: string,
  framework: FrameworkMatch,
  override: string | undefined,
  log: (line: string) => void,
): Promise<{ outputRel: string; outputDir: string; server?: ServerBuild }> {
  if (override !== undefined && override.trim() !== '') {
    if (!(await isDirectory(join(rootDir, override)))) {
      throw new AppError('OUTPUT_NOT_FOUND', `The build did not produce the output directory "${override}".`, {
        hint: 'Check the build log for the folder your build writes (often dist, build or out) and set outputDirectory to it, relative to the root directory.',
      });
    }
    return { outputRel: override, outputDir: join(rootDir, override) };
  }
  if (framework.server !== undefined) return serverOutput(rootDir, framework, log);
  if (framework.outputDirectory !== '' && (await isDirectory(join(rootDir, framework.outputDirectory)))) {
    return { outputRel: framework.outputDirectory, outputDir: join(rootDir, framework.outputDirectory) };
  }
  const found = (await detectOutputDir(rootDir)) ?? '';
  return { outputRel: found, outputDir: join(rootDir, found) };
}

/**
 * A server build: the bundle to run, and its static folders hard-linked together into one tree
 * laid out by URL (Next.js: `.next/static` under `_next/static`, `public/` at the root).
 */
async function serverOutput(rootDir: string, framework: FrameworkMatch, log: (line: string) => void): Promise<{ outputRel: string; outputDir: string; server: ServerBuild }> {
  const server = framework.server!;
  const entryPath = join(rootDir, server.entry);
  if (!(await exists(entryPath))) {
    const hint =
      server.kind === 'nextjs-standalone'
        ? 'Slipway builds Next.js with standalone output; if your next.config sets another "output", remove it or set output: "standalone".'
        : `Check that the build writes ${server.entry} (the ${framework.name} Node adapter's server entry).`;
    throw new AppError('OUTPUT_NOT_FOUND', `The build did not produce the server entry ${server.entry}.`, { hint });
  }
  // Self-contained bundles run from their own folder; the rest need the project's node_modules.
  const bundleRel = server.kind === 'nextjs-standalone' ? dirname(server.entry) : server.kind === 'nuxt-nitro' ? '.output' : '';
  const bundleDir = join(rootDir, bundleRel);
  let entry = bundleRel === '' ? server.entry : server.entry.slice(bundleRel.length + 1);
  let args: string[] = [];
  const [command = 'node', ...rest] = server.start;
  if (command !== 'node') {
    // a tool such as react-router-serve (only in root bundles, whose paths are the start's paths): the runtime runs node, so run the tool's script
    entry = await resolveBin(bundleDir, command, server.startPackage);
    args = rest;
  }

  const staging = join(rootDir, STAGING);
  const mounts = [...server.mounts].sort((a, b) => a.urlPath.length - b.urlPath.length);
  let made = false;
  for (const mount of mounts) {
    const from = join(rootDir, mount.dir);
    if (!(await isDirectory(from))) continue;
    const to = join(staging, mount.urlPath);
    made = true;
    if (await exists(to)) {
      // two folders under one URL path (SvelteKit's client files and prerendered pages): merged file by file
      const clashes: string[] = [];
      await mergeTree(from, to, '', clashes);
      if (clashes.length > 0) log(`Warning: ${mount.dir} and another static folder both have ${clashes[0]}${clashes.length > 1 ? ` (and ${clashes.length - 1} more)` : ''} under ${mount.urlPath}; keeping the first.`);
      continue;
    }
    await mkdir(dirname(to), { recursive: true });
    await copyTree(from, to, { op: 'link' });
  }
  if (!made) await mkdir(staging, { recursive: true });
  const runs = [`${bundleRel === '' ? '' : `${bundleRel}/`}${entry}`, ...args].join(' ');
  log(`Server output: ${framework.name} server node ${runs}${command === 'node' ? '' : ` (${command})`}; static files from ${mounts.map((m) => `${m.dir} → ${m.urlPath}`).join(', ') || 'none'}`);
  return { outputRel: STAGING, outputDir: staging, server: { kind: server.kind, bundleDir, entry, args, start: server.start } };
}

/** Hard-link the tree `from` into the existing folder `to`; paths `to` already has are left as they are and listed in `clashes`. */
async function mergeTree(from: string, to: string, rel: string, clashes: string[]): Promise<void> {
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const src = join(from, entry.name);
    const dst = join(to, entry.name);
    const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
    const there = await lstat(dst).catch(() => undefined);
    if (there === undefined) {
      if (entry.isDirectory()) await copyTree(src, dst, { op: 'link' });
      else if (entry.isSymbolicLink()) await symlink(await readlink(src), dst);
      else if (entry.isFile()) await link(src, dst).catch(() => copyFile(src, dst));
    } else if (entry.isDirectory() && there.isDirectory()) await mergeTree(src, dst, path, clashes);
    else clashes.push(path);
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
  const file = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(65536), 0, 65536, 0);
    const text = buffer.subarray(0, bytesRead).toString('utf8');
    return text.startsWith('#!/bin/sh') ? text : '';
  } finally {
    await file.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
