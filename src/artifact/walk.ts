import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { LogFn } from '../build/types.js';

export interface OutputFile {
  /** manifest key: '/'-separated, relative to the output root */
  key: string;
  /** where to read the bytes (a symlink resolved to its target inside the output) */
  path: string;
}

export interface WalkOptions {
  skipDependencies: boolean;
  exclude?: ((relPath: string) => boolean) | undefined;
  log: LogFn;
}

/**
 * Every regular file under `root`. A symlink is followed only when its real path stays inside
 * the root; one pointing out, dangling or looping is skipped with a warning, never followed.
 * The output is the build's, so `root` itself must be a real folder (not a link; the build
 * resolves it inside the checkout), and checking each link's real path is race-free because no
 * build process is left running when packaging starts (see build/beneath.ts).
 */
export async function walkOutput(root: string, opts: WalkOptions): Promise<OutputFile[]> {
  if (!(await lstat(root)).isDirectory()) throw new Error(`the output folder ${root} is a symlink or not a folder`);
  const realRoot = await realpath(root);
  const files: OutputFile[] = [];
  const skip = (key: string, why: string) => opts.log(`Warning: skipped ${key}: ${why}`);

  const visit = async (dir: string, prefix: string, ancestors: Set<string>): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const name = entry.name;
      if (name === '.git' || (opts.skipDependencies && prefix === '' && name === 'node_modules')) continue;
      const key = prefix === '' ? name : `${prefix}/${name}`;
      if (opts.exclude?.(key) === true) continue;
      if (name.includes('\\')) {
        skip(key, 'a backslash in a file name cannot be served');
        continue;
      }
      let path = join(dir, name);
      const info = await lstat(path);
      let isDir = info.isDirectory();
      let isFile = info.isFile();
      if (info.isSymbolicLink()) {
        const target = await realpath(path).catch((err: NodeJS.ErrnoException) => err);
        if (target instanceof Error) {
          skip(key, target.code === 'ELOOP' ? 'symlink loop' : 'dangling symlink');
          continue;
        }
        if (!inside(realRoot, target)) {
          skip(key, 'symlink points outside the output directory');
          continue;
        }
        const targetInfo = await stat(target);
        path = target;
        isDir = targetInfo.isDirectory();
        isFile = targetInfo.isFile();
      }
      if (isDir) {
        const real = await realpath(path);
        if (ancestors.has(real)) {
          skip(key, 'symlink loop');
          continue;
        }
        await visit(path, key, new Set([...ancestors, real]));
      } else if (isFile) files.push({ key, path });
    }
  };

  await visit(realRoot, '', new Set([realRoot]));
  return files;
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}
