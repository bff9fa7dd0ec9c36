import { rmSync } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readlink, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** The uid and gid sandboxed code runs as on the host when Slipway runs as root. */
export const SANDBOX_UID = 64100;
export const SANDBOX_GID = 64100;

/**
 * The pieces of the host's /etc a build or a server needs, read-only: CA certificates (TLS to
 * registries), name resolution, the dynamic linker's cache, `alternatives` (cc, c++ for native
 * addons), time zones. Never shadow, sudoers, ssh keys or anything under /root or /home.
 */
const ETC_PIECES = [
  'ssl',
  'ca-certificates',
  'ca-certificates.conf',
  'resolv.conf',
  'nsswitch.conf',
  'host.conf',
  'gai.conf',
  'protocols',
  'services',
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'alternatives',
  'localtime',
  'timezone',
  'mime.types',
  'os-release',
  'gitconfig',
];

/** Top-level names that are /usr on a merged-/usr system (symlinks) or folders of their own. */
const SYSTEM_TOPS = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'];

export interface RootSpec {
  /** working directory inside (the same path as outside) */
  cwd: string;
  /** bound read-only at the same path */
  readOnly: string[];
  /** bound read-write at the same path, after the read-only ones */
  writable: string[];
  /** blanked after the binds, where they fall under one of them: folders by an empty tmpfs, files by /dev/null */
  masked: string[];
  /** bound read-write at another path inside: [outside, inside] */
  writableAt?: [string, string][] | undefined;
  /** size of the private /tmp (a tmpfs), bytes */
  tmpBytes: number;
  /** false: share the host's network namespace (no root: nothing else reaches the internet) */
  ownNetwork: boolean;
  /** the uid/gid the code appears as inside (the mapped host uid) */
  uid: number;
  gid: number;
}

/**
 * bwrap arguments, ending in `--`, that run a command on a minimal root: the system's /usr and
 * the /etc pieces above read-only, a generated passwd, group and hosts, a private /proc, /dev and
 * size-capped /tmp, and only the given folders. Own user, mount, PID, IPC and UTS namespaces;
 * no capabilities; everything dies with bwrap, and bwrap dies with its parent.
 */
export async function bwrapRootArgs(spec: RootSpec): Promise<string[]> {
  const args = ['--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--hostname', 'slipway'];
  if (!spec.ownNetwork) args.push('--share-net');
  args.push('--uid', String(spec.uid), '--gid', String(spec.gid));
  args.push('--ro-bind', '/usr', '/usr');
  for (const top of SYSTEM_TOPS) {
    const info = await lstat(`/${top}`).catch(() => undefined);
    if (info?.isSymbolicLink() === true) args.push('--symlink', await readlink(`/${top}`), `/${top}`);
    else if (info?.isDirectory() === true) args.push('--ro-bind', `/${top}`, `/${top}`);
  }
  for (const piece of ETC_PIECES) args.push('--ro-bind-try', `/etc/${piece}`, `/etc/${piece}`);
  const etc = await identityFiles(spec.uid, spec.gid);
  for (const name of ['passwd', 'group', 'hosts'] as const) args.push('--ro-bind', join(etc, name), `/etc/${name}`);
  // node (and its npm) outside /usr, as with nvm or a tarball under /opt
  const nodeHome = dirname(dirname(process.execPath));
  if (!process.execPath.startsWith('/usr/')) args.push('--ro-bind', nodeHome, nodeHome);
  // /var/tmp a tmpfs of its own (not a link to /tmp: bound folders may lie below it), capped alike
  args.push('--proc', '/proc', '--dev', '/dev', '--size', String(spec.tmpBytes), '--tmpfs', '/tmp', '--size', String(spec.tmpBytes), '--tmpfs', '/var/tmp');
  for (const path of spec.readOnly) args.push('--ro-bind', path, path);
  for (const path of spec.writable) args.push('--bind', path, path);
  for (const [outside, inside] of spec.writableAt ?? []) args.push('--bind', outside, inside);
  const bound = [...spec.readOnly, ...spec.writable];
  for (const path of spec.masked) {
    if (!bound.some((b) => path === b || path.startsWith(`${b}/`))) continue;
    const info = await lstat(path).catch(() => undefined);
    if (info?.isDirectory() === true) args.push('--tmpfs', path);
    else if (info !== undefined) args.push('--ro-bind', '/dev/null', path);
  }
  // the root itself is a tmpfs of bwrap's, without a size cap: read-only, so what is written goes to the capped /tmp or the bound folders
  args.push('--remount-ro', '/');
  args.push('--cap-drop', 'ALL', '--die-with-parent', '--new-session', '--chdir', spec.cwd, '--');
  return args;
}

let written: Promise<string> | undefined;

/**
 * A folder with the sandbox's /etc/passwd, group and hosts (one user: the sandbox's). As root it
 * is /run/slipway-sandbox-etc (only root writes /run, so nobody can plant files there; shared by
 * Slipway processes, written by rename); otherwise a fresh temp folder, removed at exit.
 */
function identityFiles(uid: number, gid: number): Promise<string> {
  written ??= (async () => {
    const files: Record<string, string> = {
      passwd: `root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nslipway:x:${uid}:${gid}:Slipway sandbox:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
      group: `root:x:0:\nslipway:x:${gid}:\nnogroup:x:65534:\n`,
      hosts: '127.0.0.1\tlocalhost slipway\n::1\tlocalhost ip6-localhost ip6-loopback\n',
    };
    let dir: string;
    if (process.getuid?.() === 0) {
      dir = '/run/slipway-sandbox-etc';
      await mkdir(dir, { recursive: true, mode: 0o755 });
      const info = await lstat(dir);
      if (!info.isDirectory() || info.uid !== 0) throw new Error(`${dir} is not a folder of root's`);
      await chmod(dir, 0o755);
    } else {
      // a fresh folder of our own (a fixed name in /tmp could be planted by another local user)
      dir = await mkdtemp(join(tmpdir(), 'slipway-etc-'));
      await chmod(dir, 0o755);
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    }
    for (const [name, text] of Object.entries(files)) {
      const temp = join(dir, `.${name}.${process.pid}`);
      await writeFile(temp, text, { mode: 0o644 });
      await rename(temp, join(dir, name));
    }
    return dir;
  })();
  return written;
}
