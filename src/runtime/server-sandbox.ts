import { lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureNode, HOST_NODE_VERSION } from '../nodejs/index.js';
import { chownTree, openSandbox, type Sandbox } from '../sandbox/index.js';
import type { MaterializedBundle } from './bundles.js';
import { rssLimitMb } from './memory.js';

/** The platform's side of a server sandbox (the runtime's `sandbox` option). */
export interface ServerSandboxOptions {
  hidden: string[];
  pids?: number | undefined;
  tmpMb?: number | undefined;
  allow?: readonly string[] | undefined;
}

/**
 * The server's sandbox: its bundle read-only, a writable folder of the deployment's own where
 * the framework keeps its cache (Next.js's .next/cache: ISR, images), its own network, and a
 * cgroup memory cap a little above its heap limit (the same headroom as the memory watch).
 */
export async function openServerSandbox(
  sandbox: ServerSandboxOptions,
  bundle: MaterializedBundle,
  nodeDir: string | undefined,
  heapMb: number | undefined,
  own: { pids?: number | undefined; cpuShares?: number | undefined },
): Promise<Sandbox | undefined> {
  const cwd = bundle.dir;
  const writableAt: [string, string][] = [];
  const nextDir = join(cwd, '.next');
  if ((await lstat(nextDir).catch(() => undefined))?.isDirectory() === true) {
    // the mount point must exist in the read-only bundle; our own folder, made by materialize
    await mkdir(join(nextDir, 'cache'), { recursive: true });
    writableAt.push([bundle.dataDir, join(nextDir, 'cache')]);
  }
  const box = await openSandbox({
    cwd,
    readOnly: nodeDir === undefined ? [cwd] : [cwd, nodeDir],
    writable: [],
    writableAt,
    masked: sandbox.hidden,
    tmpMb: sandbox.tmpMb ?? 256,
    limits: {
      // a backstop a little above the memory watch's limit, for a server that allocates faster than the watch looks
      memoryMb: heapMb === undefined ? undefined : rssLimitMb(heapMb) + 32,
      pids: Math.min(own.pids ?? Infinity, sandbox.pids ?? 1024),
      cpuShares: own.cpuShares ?? 1024,
      cpuParent: 'servers',
    },
    network: { allow: [...(sandbox.allow ?? [])] },
  });
  if (box !== undefined && writableAt.length > 0)
    await chownTree(
      writableAt.map(([outside]) => outside),
      box.owner,
    );
  return box;
}

/** The bundle's own Node.js from the cache (fetched when missing); undefined: the node running Slipway. */
export async function serverNode(version: string | undefined, cacheDir: string, log: (line: string) => void): Promise<{ bin: string; dir: string } | undefined> {
  if (version === undefined || version === HOST_NODE_VERSION) return undefined;
  const node = await ensureNode(cacheDir, version, log);
  if (node.fetched) log(`fetched Node.js ${version} for its server in ${node.ms} ms`);
  return { bin: node.bin, dir: node.dir };
}
