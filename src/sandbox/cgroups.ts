import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { alive } from './alive.js';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

/*
 * cgroup v1 (what this kind of machine has; v2's memory controller is not delegated here):
 * one group per sandbox under /sys/fs/cgroup/<controller>/slipway/<pid>-<n>, so a sandbox's
 * every process is known (to stop them all, and to find survivors of a killed Slipway by the
 * pid in the name) and capped: memory (and memory+swap), tasks, CPU share.
 * CPU: builds sit under cpu/slipway/, a parent of the default weight, so all builds together
 * weigh as much as one ordinary process and the edge and SSR servers stay responsive while they
 * run; servers sit under cpu/slipway-servers/, whose weight is that of one process per core, so
 * together they can use the machine against the edge; a sandbox's own share splits its parent's.
 */

const ROOT = '/sys/fs/cgroup';
const CONTROLLERS = ['memory', 'pids', 'cpu'] as const;
type Controller = (typeof CONTROLLERS)[number];

export interface Limits {
  memoryMb?: number | undefined;
  /** processes and threads together */
  pids?: number | undefined;
  /** relative CPU weight among its siblings (builds, or servers); 1024 is the default */
  cpuShares?: number | undefined;
  /** which CPU parent the sandbox weighs in: all builds together weigh one process, all servers one per core */
  cpuParent?: 'builds' | 'servers' | undefined;
}

export interface SandboxGroup {
  /** the cgroup.procs files a process writes its pid into before it runs the command */
  procsFiles: string[];
  /** after the sandbox ended: the limit it ran into, in words, if any */
  limitHit(): Promise<string | undefined>;
  /** SIGKILL whatever is still in the group, then remove it */
  release(): Promise<void>;
}

let counter = 0;
const SERVERS_CPU = join(ROOT, 'cpu', 'slipway-servers');
let serversParent: Promise<string> | undefined;

/** cpu/slipway-servers/, weighing one ordinary process per core against the rest of the machine */
function serversCpuParent(): Promise<string> {
  serversParent ??= (async () => {
    await mkdir(SERVERS_CPU, { recursive: true });
    await writeFile(join(SERVERS_CPU, 'cpu.shares'), String(1024 * availableParallelism()));
    return SERVERS_CPU;
  })();
  return serversParent;
}

export async function createGroup(available: Record<Controller, boolean>, limits: Limits): Promise<SandboxGroup | undefined> {
  const name = `${process.pid}-${++counter}`;
  const dirs = new Map<Controller, string>();
  for (const controller of CONTROLLERS) {
    if (!available[controller]) continue;
    if (controller === 'cpu' && limits.cpuShares === undefined && limits.cpuParent !== 'servers') continue;
    const parent = controller === 'cpu' && limits.cpuParent === 'servers' ? await serversCpuParent() : join(ROOT, controller, 'slipway');
    const dir = join(parent, name);
    await mkdir(dir, { recursive: true });
    dirs.set(controller, dir);
  }
  if (dirs.size === 0) return undefined;
  const memory = dirs.get('memory');
  if (memory !== undefined && limits.memoryMb !== undefined) {
    const bytes = String(limits.memoryMb * 1024 * 1024);
    await writeFile(join(memory, 'memory.limit_in_bytes'), bytes);
    // without this the group swaps instead of meeting its limit, where the machine has swap
    await writeFile(join(memory, 'memory.memsw.limit_in_bytes'), bytes).catch(() => undefined);
  }
  const pids = dirs.get('pids');
  if (pids !== undefined && limits.pids !== undefined) await writeFile(join(pids, 'pids.max'), String(limits.pids));
  const cpu = dirs.get('cpu');
  if (cpu !== undefined && limits.cpuShares !== undefined) await writeFile(join(cpu, 'cpu.shares'), String(limits.cpuShares));

  return {
    procsFiles: [...dirs.values()].map((dir) => join(dir, 'cgroup.procs')),
    limitHit: async () => {
      if (memory !== undefined && limits.memoryMb !== undefined) {
        const oom = await readFile(join(memory, 'memory.oom_control'), 'utf8').catch(() => '');
        const kills = Number(/oom_kill (\d+)/.exec(oom)?.[1] ?? '0');
        if (kills > 0) return `its memory limit of ${limits.memoryMb} MiB`;
      }
      if (pids !== undefined && limits.pids !== undefined) {
        const events = await readFile(join(pids, 'pids.events'), 'utf8').catch(() => '');
        if (Number(/max (\d+)/.exec(events)?.[1] ?? '0') > 0) return `its limit of ${limits.pids} processes and threads`;
      }
      return undefined;
    },
    release: () => removeGroups([...dirs.values()]),
  };
}

/** Kill what is left in groups of Slipway processes that are gone (SIGKILLed), and remove them. */
export async function sweepGroups(): Promise<number> {
  let killed = 0;
  const stale: string[] = [];
  for (const parent of [...CONTROLLERS.map((controller) => join(ROOT, controller, 'slipway')), SERVERS_CPU]) {
    for (const name of await readdir(parent).catch(() => [] as string[])) {
      // a group folder is <pid>-<n>; the rest are the parent's control files
      if (!/^\d+-\d+$/.test(name)) continue;
      const pid = Number(name.split('-')[0]);
      if (pid === process.pid || alive(pid)) continue;
      stale.push(join(parent, name));
    }
  }
  for (const dir of stale) killed += await killAll(dir);
  await removeGroups(stale);
  return killed;
}

async function removeGroups(dirs: string[]): Promise<void> {
  for (let round = 0; round < 50; round++) {
    let left = 0;
    for (const dir of dirs) {
      await killAll(dir);
      await rmdir(dir).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') left++;
      });
    }
    if (left === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function killAll(dir: string): Promise<number> {
  const text = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
  let n = 0;
  for (const pid of text.split('\n').filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL');
      n++;
    } catch {
      // already gone
    }
  }
  return n;
}
