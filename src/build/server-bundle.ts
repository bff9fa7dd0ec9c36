import { lstat, mkdir, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { AppError } from '../errors/index.js';
import { readFileBeneath, resolveBeneath } from '../beneath/index.js';
import { copyTree } from './cache-tree.js';
import { cleanRelativePath } from './detect.js';

/*
 * Server bundles of a package inside a monorepo. A server that runs from the project root with
 * its node_modules (Astro's and SvelteKit's node adapters, React Router, Remix) finds most of
 * its packages in the workspace root's node_modules, where npm and yarn hoist them and where
 * pnpm keeps its .pnpm store: the package folder alone does not start. Next.js's standalone
 * output traces from the workspace root too, so its server.js lands a few folders down.
 */

/** Folder (at the workspace root, inside the checkout) where a workspace package's server bundle is assembled. */
export const SERVER_STAGING = '.slipway-server';

/** What a server bundle needs of the workspace: its root, the package's folder, and the workspace packages it depends on. */
export interface WorkspaceBundle {
  /** the workspace root: absolute, no link in it */
  dir: string;
  /** the project's package, relative to dir ('/'-separated), e.g. "apps/web" */
  packageRel: string;
  /** the workspace packages it depends on, directly or not (their folders, relative to dir) */
  dependencies: string[];
}

/** Below a package folder in the bundle: never part of a server (Slipway's own staging, history, rewritten caches). */
const SKIP_IN_PACKAGE = new Set(['.slipway-static', '.git', 'node_modules/.cache', '.next/cache']);

/**
 * Next.js writes its standalone server under the folder it traced from: the project itself, or
 * the workspace root Next infers from the lockfile it finds above (Next 15) or the config's
 * outputFileTracingRoot, when server.js lands at `.next/standalone/apps/web/server.js`.
 * `.next/required-server-files.json` says which (`relativeAppDir`, Next 13.4+); the entry
 * there is taken only when it is a clean path below the bundle and a file.
 * Returns the entry relative to the project root, or undefined when there is none.
 */
export async function nextStandaloneEntry(within: string, rootRel: string, bundleRel: string): Promise<string | undefined> {
  const distDir = posix.dirname(bundleRel);
  const at = (rel: string) => (rootRel === '' ? rel : `${rootRel}/${rel}`);
  const json = await readFileBeneath(within, at(`${distDir}/required-server-files.json`));
  let appDir: string | undefined;
  try {
    const value = (JSON.parse(json?.toString('utf8') ?? 'null') as { relativeAppDir?: unknown } | null)?.relativeAppDir;
    appDir = typeof value === 'string' && value !== '' ? cleanRelativePath(value) : undefined;
  } catch {
    appDir = undefined;
  }
  if (appDir === undefined) return undefined;
  const entry = `${bundleRel}/${appDir}/server.js`;
  return (await resolveBeneath(within, at(entry), { follow: false })).kind === 'file' ? entry : undefined;
}

/**
 * Assemble the server bundle of a workspace package at `<workspace>/.slipway-server`, laid out
 * as the workspace is: the root's node_modules, the package's folder (its own node_modules, its
 * build) and the workspace packages it depends on, which node_modules links to. Files are hard
 * links (cheap; the bundle is hashed and stored right after); a symlink is kept only while it
 * stays inside the workspace (a link to a folder not taken along stays dangling, as it would in
 * any copy). Made afresh each time: whatever the build left under that name goes first.
 * Returns the bundle's folder and the paths inside it to prefix the server's entry and arguments with.
 */
export async function assembleWorkspaceBundle(ws: WorkspaceBundle, log: (line: string) => void): Promise<{ bundleDir: string; prefix: string }> {
  const staging = join(ws.dir, SERVER_STAGING);
  await rm(staging, { recursive: true, force: true });
  // a dependency inside another part (a package nested in the app's folder) comes along with it
  const inside = (rel: string, parent: string) => rel.startsWith(`${parent}/`);
  const parts = ['node_modules', ws.packageRel, ...ws.dependencies.filter((d) => d !== ws.packageRel && !inside(d, ws.packageRel) && !ws.dependencies.some((o) => inside(d, o)))];
  let files = 0;
  const dropped: string[] = [];
  for (const rel of parts) {
    const found = await resolveBeneath(ws.dir, rel, { follow: false });
    if (found.kind === 'missing') continue;
    if (found.kind !== 'dir') {
      throw new AppError('OUTPUT_NOT_FOUND', `${rel} at the workspace root is not a folder (${found.kind === 'link' ? 'a symlink' : 'not a directory'}), so the server bundle cannot take it along.`, {
        hint: 'Install the workspace with its package manager, without replacing its folders by links.',
      });
    }
    const to = join(staging, rel);
    // parents first (apps/ for apps/web): copyTree makes only the folder itself
    await mkdirParents(staging, rel);
    const skip = rel === 'node_modules' ? new Set(['.cache']) : SKIP_IN_PACKAGE;
    const stats = await copyTree(found.path, to, { op: 'link', skip, links: { at: found.path, within: ws.dir } });
    files += stats.files;
    dropped.push(...stats.dropped.map((d) => `${rel}/${d}`));
  }
  if (dropped.length > 0) log(`Warning: left ${dropped[0]}${dropped.length > 1 ? ` (and ${dropped.length - 1} more)` : ''} out of the server bundle: a symlink pointing outside the workspace`);
  log(
    `Server bundle: the workspace root's node_modules, ${ws.packageRel}${ws.dependencies.length === 0 ? '' : ` and ${ws.dependencies.join(', ')}`} (${files} files), so the server starts from the bundle alone`,
  );
  return { bundleDir: staging, prefix: ws.packageRel };
}

async function mkdirParents(root: string, rel: string): Promise<void> {
  const segments = rel.split('/').slice(0, -1);
  let dir = root;
  await mkdir(root, { recursive: true });
  for (const segment of segments) {
    dir = join(dir, segment);
    // never through a link: the staging folder is ours and fresh, so one here means a race with the build
    const info = await lstat(dir).catch(() => undefined);
    if (info === undefined) await mkdir(dir);
    else if (!info.isDirectory()) throw new Error(`${dir} is not a folder`);
  }
}

/**
 * yarn 2+'s default Plug'n'Play install writes no node_modules: its packages stay zipped in
 * yarn's cache and only `yarn node` (with .pnp.cjs) can load them. A build run through yarn
 * works that way, but a server bundle that runs with its node_modules has none to carry, so
 * say what to set instead of shipping a server that cannot start.
 * `installRel`: the folder that was installed (the project's, or its workspace root), relative to `within`.
 */
export async function refusePlugAndPlay(within: string, installRel: string, framework: string): Promise<void> {
  const pnp = await resolveBeneath(within, posix.join(installRel || '.', '.pnp.cjs'), { follow: false });
  if (pnp.kind !== 'file') return;
  throw new AppError(
    'OUTPUT_NOT_FOUND',
    `The ${framework} server needs its dependencies in node_modules, but yarn installed them with Plug'n'Play (.pnp.cjs${installRel === '' ? '' : ` in ${installRel}`}), which writes none. Set nodeLinker: node-modules in .yarnrc.yml and commit it.`,
    { hint: 'Add the line "nodeLinker: node-modules" to .yarnrc.yml at the root of the yarn project, then push again.' },
  );
}
