import { chmod, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createGroup, sweepGroups, type Limits } from './cgroups.js';
import { createNetwork, sweepNetworks, type NetworkPolicy } from './network.js';
import { probeIsolation, type Isolation } from './probe.js';
import { bwrapRootArgs, SANDBOX_GID, SANDBOX_UID } from './root.js';

export { probeIsolation, type Isolation } from './probe.js';
export { createWorkspace, sweepWorkspaces } from './workspace.js';
export { alive } from './alive.js';
export { chownTree } from './owner.js';
export type { Limits } from './cgroups.js';
export type { NetworkPolicy } from './network.js';

export interface SandboxSpec {
  /** working directory, the same path inside as outside */
  cwd: string;
  readOnly?: string[] | undefined;
  writable: string[];
  /** [outside, inside] */
  writableAt?: [string, string][] | undefined;
  /** blanked inside (an empty folder, or /dev/null for a file) where they fall under a bound folder */
  masked?: string[] | undefined;
  /** size of the private /tmp, MiB */
  tmpMb: number;
  limits: Limits;
  network: NetworkPolicy;
}

export interface Sandbox {
  /** run `[...prefix, command, ...args]` */
  prefix: string[];
  /** the host uid/gid the code runs as: the folders it writes must be theirs */
  owner: { uid: number; gid: number };
  /** what a server inside should listen on, and where the host then reaches it */
  listenHost: string;
  address: string;
  /** what is not isolated on this machine, one line each, for the log */
  gaps: string[];
  /** after the command ended: the limit it ran into, in words ("its memory limit of 512 MiB") */
  limitHit(): Promise<string | undefined>;
  /** kill anything left inside; free the network and the groups */
  release(): Promise<void>;
}

/**
 * Make a sandbox for one build or one server: bwrap's namespaces on a minimal root; as root,
 * also a dedicated unprivileged uid, a network namespace of its own behind the host's firewall
 * and cgroup limits. Undefined when bwrap does not work here (the caller runs unsandboxed and says so).
 * `const box = await openSandbox({ cwd, writable: [cwd], tmpMb: 512, limits: { memoryMb: 2048 }, network: { allow: [] } })`
 */
export async function openSandbox(spec: SandboxSpec): Promise<Sandbox | undefined> {
  const iso = await probeIsolation();
  if (!iso.bwrap.ok) return undefined;
  const gaps = isolationGaps(iso);
  const owner = iso.root ? { uid: SANDBOX_UID, gid: SANDBOX_GID } : { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  const group = await createGroup(iso.cgroups, spec.limits);
  let network: Awaited<ReturnType<typeof createNetwork>> | undefined;
  try {
    network = iso.network.ok ? await createNetwork(spec.network) : undefined;
  } catch (err) {
    await group?.release();
    throw err;
  }
  if (iso.root) await makeTraversable([spec.cwd, ...(spec.readOnly ?? []), ...spec.writable, ...(spec.writableAt ?? []).map(([outside]) => outside)]);
  const bwrap = await bwrapRootArgs({ ...spec, readOnly: spec.readOnly ?? [], masked: spec.masked ?? [], tmpBytes: spec.tmpMb * 1024 * 1024, ownNetwork: network !== undefined, ...owner });
  const prefix = [
    // join the groups first, so every process the command makes is counted and capped
    ...(group === undefined ? [] : ['/bin/sh', '-c', 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"', 'sh', ...group.procsFiles, '--']),
    ...(network === undefined ? [] : ['nsenter', `--net=${network.path}`, '--']),
    // pdeathsig: when Slipway dies (even by SIGKILL), bwrap gets SIGKILL, and the sandbox with it
    'setpriv',
    ...(iso.root ? ['--reuid', String(owner.uid), '--regid', String(owner.gid), '--clear-groups'] : []),
    '--no-new-privs',
    '--pdeathsig',
    'KILL',
    '--',
    'bwrap',
    ...bwrap,
  ];
  return {
    prefix,
    owner,
    listenHost: network === undefined ? '127.0.0.1' : '0.0.0.0',
    address: network?.address ?? '127.0.0.1',
    gaps,
    limitHit: async () => (await group?.limitHit()) ?? undefined,
    release: async () => {
      await group?.release();
      await network?.release();
    },
  };
}

/**
 * bwrap runs as the sandbox's uid and must reach every folder it binds: give each folder above
 * them the search bit for others where it lacks it (a data dir made 0700). Search without read
 * lists nothing; the files that must stay private are 0600 on their own (secret.key, the database).
 */
async function makeTraversable(paths: string[]): Promise<void> {
  const seen = new Set<string>();
  for (const path of paths) {
    for (let dir = dirname(path); !seen.has(dir); dir = dirname(dir)) {
      seen.add(dir);
      const info = await stat(dir).catch(() => undefined);
      if (info !== undefined && (info.mode & 0o001) === 0) await chmod(dir, (info.mode & 0o7777) | 0o001);
      if (dir === '/') break;
    }
  }
}

function isolationGaps(iso: Isolation): string[] {
  const gaps: string[] = [];
  if (!iso.network.ok) gaps.push(`the network is shared with the host (${iso.network.why}): it can reach the host's services`);
  if (!iso.root) gaps.push('it runs as the same user as Slipway (not root, so there is no other uid to switch to)');
  const missing = Object.entries(iso.cgroups)
    .filter(([, ok]) => !ok)
    .map(([name]) => name);
  if (missing.length > 0) gaps.push(`no ${missing.join(', ')} limit (cgroup v1 controllers need root)`);
  return gaps;
}

/**
 * At start-up: kill every sandboxed process left by a Slipway that was killed and remove its
 * network namespaces. (Its build folders are the worker's to sweep: it knows which attempts still run.)
 */
export async function sweepSandboxes(): Promise<{ processes: number; networks: number }> {
  const iso = await probeIsolation();
  if (!iso.root) return { processes: 0, networks: 0 };
  const processes = await sweepGroups();
  const networks = await sweepNetworks();
  return { processes, networks };
}
