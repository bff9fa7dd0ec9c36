import { mkdir, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { attempt } from './probe.js';

/**
 * A build's folder with a size cap the kernel enforces: a sparse file holding an ext4 file
 * system of that size, loop-mounted (nosuid, nodev) at `dir`. Only what is written takes disk
 * space; a build that fills it gets ENOSPC there and nowhere else. Takes ~50 ms.
 * Without root or loop devices, `dir` is a plain folder and `capped` is false.
 */
export async function createWorkspace(dir: string, maxBytes: number, canMount: boolean): Promise<{ capped: boolean; release: () => Promise<void> }> {
  await mkdir(dir, { recursive: true });
  if (!canMount || maxBytes <= 0) return { capped: false, release: () => rm(dir, { recursive: true, force: true }) };
  const image = `${dir}.img`;
  await rm(image, { force: true });
  await writeSparse(image, maxBytes);
  const steps: [string, string[]][] = [
    // no journal and lazy tables: a throwaway file system, made in milliseconds
    ['mkfs.ext4', ['-q', '-F', '-m', '0', '-O', '^has_journal', '-E', 'lazy_itable_init=1,nodiscard', image]],
    ['mount', ['-o', 'loop,nosuid,nodev,noatime', image, dir]],
  ];
  for (const [file, args] of steps) {
    const why = await attempt(file, args);
    if (why !== undefined) {
      await rm(image, { force: true });
      throw new Error(`could not make the build folder (${file}: ${why})`);
    }
  }
  await rm(`${dir}/lost+found`, { recursive: true, force: true });
  return {
    capped: true,
    release: async () => {
      await unmount(dir);
      await rm(image, { force: true });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Remove the build folders under `root` left by attempts that no longer run (a Slipway killed
 * mid-build): unmount each (and anything mounted below it), then remove it and its disk image.
 * `keep(name)` names the folders still in use (`<deployment>-<attempt>`, without `.img`).
 */
export async function sweepWorkspaces(root: string, keep: (name: string) => boolean): Promise<number> {
  const mounts = await readFile('/proc/self/mounts', 'utf8').catch(() => '');
  const targets = mounts
    .split('\n')
    .map((line) => line.split(' ')[1]?.replace(/\\040/g, ' '))
    // biome-ignore lint/complexity/useOptionalChain: a type guard must return a boolean, not undefined
    .filter((t): t is string => t !== undefined && t.startsWith(`${root}/`) && !keep(t.slice(root.length + 1).split('/')[0]!))
    // the deepest first: a mount inside a build folder goes before the folder's own
    .sort((a, b) => b.length - a.length);
  for (const target of targets) await unmount(target);
  const stale = new Set((await readdir(root).catch(() => [] as string[])).map((name) => name.replace(/\.img$/, '')).filter((name) => !keep(name)));
  for (const name of stale) {
    await rm(join(root, name), { recursive: true, force: true });
    await rm(join(root, `${name}.img`), { force: true });
  }
  return stale.size;
}

async function unmount(dir: string): Promise<void> {
  // lazy: a process still holding a file there (it is being killed) must not keep the mount
  await attempt('umount', ['-l', dir]);
}

async function writeSparse(path: string, bytes: number): Promise<void> {
  await writeFile(path, '', { mode: 0o600 });
  await truncate(path, bytes);
}
