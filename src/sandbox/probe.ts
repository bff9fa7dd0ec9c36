import { execFile } from 'node:child_process';
import { access, readdir } from 'node:fs/promises';

export interface Isolation {
  /** bubblewrap works here (it needs unprivileged user namespaces); else why not */
  bwrap: { ok: true } | { ok: false; why: string };
  /** coreutils `timeout` exists (used only when there is no sandbox) */
  timeout: boolean;
  /**
   * We run as root, so sandboxes drop to a dedicated unprivileged uid, get their own network
   * namespace behind the host's firewall, cgroup limits and a size-capped build folder. Without
   * root they still get bwrap's namespaces (as the same uid), but share the host's network.
   */
  root: boolean;
  /** `ip` and `iptables` exist (network namespaces need both) */
  network: { ok: true } | { ok: false; why: string };
  /** cgroup v1 controllers mounted under /sys/fs/cgroup */
  cgroups: { memory: boolean; pids: boolean; cpu: boolean };
  /** mkfs.ext4 and loop devices exist: a build folder can be a file system of its own size */
  loop: boolean;
}

let probed: Promise<Isolation> | undefined;

/** Probe once per process which isolation tools work on this machine. */
export function probeIsolation(): Promise<Isolation> {
  probed ??= (async () => {
    const root = process.getuid?.() === 0;
    const [bwrap, timeout, ip, iptables, memory, pids, cpu, mkfs, loop] = await Promise.all([
      attempt('bwrap', ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--unshare-user', '--unshare-pid', '--die-with-parent', '--new-session', 'true']),
      attempt('timeout', ['5', 'true']),
      attempt('ip', ['-V']),
      attempt('iptables', ['-V']),
      exists('/sys/fs/cgroup/memory/memory.limit_in_bytes'),
      exists('/sys/fs/cgroup/pids/cgroup.procs'),
      exists('/sys/fs/cgroup/cpu/cpu.shares'),
      attempt('mkfs.ext4', ['-V']),
      readdir('/dev').then(
        (names) => names.includes('loop-control'),
        () => false,
      ),
    ]);
    const network: Isolation['network'] = !root
      ? { ok: false, why: 'Slipway is not running as root' }
      : ip !== undefined
        ? { ok: false, why: `ip: ${ip}` }
        : iptables !== undefined
          ? { ok: false, why: `iptables: ${iptables}` }
          : { ok: true };
    return {
      bwrap: bwrap === undefined ? { ok: true } : { ok: false, why: bwrap },
      timeout: timeout === undefined,
      root,
      network,
      cgroups: { memory: root && memory, pids: root && pids, cpu: root && cpu },
      loop: root && mkfs === undefined && loop,
    };
  })();
  return probed;
}

/** undefined when the command ran and exited 0, else a one-line reason */
export function attempt(file: string, args: string[], input?: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: 10_000, env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' } }, (err, _stdout, stderr) => {
      if (err === null) resolve(undefined);
      else resolve((stderr.trim().split('\n')[0] ?? '') || err.message);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
