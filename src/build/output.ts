import { access, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
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
  const entry = bundleRel === '' ? server.entry : server.entry.slice(bundleRel.length + 1);

  const staging = join(rootDir, STAGING);
  const mounts = [...server.mounts].sort((a, b) => a.urlPath.length - b.urlPath.length);
  let made = false;
  for (const mount of mounts) {
    const from = join(rootDir, mount.dir);
    if (!(await isDirectory(from))) continue;
    const to = join(staging, mount.urlPath);
    if (await exists(to)) {
      log(`Warning: ${mount.dir} and another static folder both claim ${mount.urlPath}; keeping the first.`);
      continue;
    }
    await mkdir(dirname(to), { recursive: true });
    await copyTree(from, to, { op: 'link' });
    made = true;
  }
  if (!made) await mkdir(staging, { recursive: true });
  log(`Server output: ${framework.name} server ${bundleRel === '' ? '' : `${bundleRel}/`}${entry}; static files from ${mounts.map((m) => `${m.dir} → ${m.urlPath}`).join(', ') || 'none'}`);
  return { outputRel: STAGING, outputDir: staging, server: { kind: server.kind, bundleDir, entry, start: server.start } };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
