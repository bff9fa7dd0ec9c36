import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';

export interface Tools {
  /** bubblewrap works here (it needs unprivileged user namespaces); else why not */
  bwrap: { ok: true } | { ok: false; why: string };
  /** coreutils `timeout` exists, so a command cannot outlive its deadline even if we die */
  timeout: boolean;
}

let probed: Promise<Tools> | undefined;

/** Probe once per process which isolation tools work on this machine. */
export function probeTools(): Promise<Tools> {
  probed ??= Promise.all([
    attempt('bwrap', ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--unshare-pid', '--die-with-parent', '--new-session', 'true']),
    attempt('timeout', ['5', 'true']),
  ]).then(([bwrap, timeout]) => ({ bwrap: bwrap === undefined ? { ok: true } : { ok: false, why: bwrap }, timeout: timeout === undefined }));
  return probed;
}

/** undefined when the command ran and exited 0, else a one-line reason */
function attempt(file: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 10_000, env: { PATH: '/usr/local/bin:/usr/bin:/bin' } }, (err, _stdout, stderr) => {
      if (err === null) resolve(undefined);
      else resolve((stderr.trim().split('\n')[0] ?? '') || err.message);
    });
  });
}

export interface SandboxPaths {
  /** hidden behind an empty tmpfs (folders) or /dev/null (files) */
  hidden: string[];
  /** bound read-write after the hiding, so they may live inside a hidden folder */
  writable: string[];
  /** blanked out again after the writable binds (a folder inside a writable one the build must not see) */
  masked?: string[] | undefined;
}

/**
 * bwrap arguments that run a command with the whole file system read-only, a private /tmp,
 * the hidden paths blanked out, and only the given folders writable. The network is kept
 * (installs need the registry). --unshare-pid + --die-with-parent: when bwrap dies, every
 * process of the build dies with it.
 */
export async function bwrapArgs(paths: SandboxPaths, cwd: string): Promise<string[]> {
  const args = ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp'];
  for (const path of paths.hidden) {
    const info = await stat(path).catch(() => undefined);
    if (info === undefined) continue;
    if (info.isDirectory()) args.push('--tmpfs', path);
    else args.push('--ro-bind', '/dev/null', path);
  }
  for (const path of paths.writable) args.push('--bind', path, path);
  for (const path of paths.masked ?? []) args.push('--tmpfs', path);
  args.push('--unshare-pid', '--die-with-parent', '--new-session', '--chdir', cwd, '--');
  return args;
}
