import { lstat, readdir, readlink, realpath } from 'node:fs/promises';
import { isAbsolute, join, posix, relative, resolve, sep } from 'node:path';
import { sha256File, type BlobStore } from '../blobs/index.js';
import type { LogFn } from '../build/types.js';
import { AppError } from '../errors/index.js';
import type { ServerBundle, ServerFile } from '../manifest/index.js';
import { formatBytes, mapLimit } from './util.js';

export interface PackageServerOptions {
  /** the folder the server runs in, e.g. `.next/standalone` or the project root for Nuxt's `.output` */
  bundleDir: string;
  /** the script node runs, relative to bundleDir ('/'-separated), e.g. "server.js" */
  entry: string;
  /** what node gets after the entry, e.g. ["build/server/index.js"] when the entry is react-router-serve's script */
  args?: string[] | undefined;
  blobs: BlobStore;
  /** the project's last bundle: blobs it names are known to be stored, so they are not asked for again */
  previous?: ServerBundle | undefined;
  log: LogFn;
}

export interface PackageServerResult {
  bundle: ServerBundle;
  filesTotal: number;
  /** blobs written now (files with the same bytes count once) */
  filesUploaded: number;
  bytesUploaded: number;
}

const CONCURRENCY = 16;

/**
 * Store a server bundle content-addressed, like static files: hash every regular file, upload
 * only the blobs the store lacks, and record modes and symlinks. An unchanged node_modules tree
 * costs only the hashing. Symlinks are recorded, never followed; one whose target leaves the
 * bundle is skipped with a warning.
 * `const { bundle } = await packageServer({ bundleDir: join(root, '.next/standalone'), entry: 'server.js', blobs, log })`
 */
export async function packageServer(opts: PackageServerOptions): Promise<PackageServerResult> {
  const { blobs, log } = opts;
  const started = Date.now();
  const root = resolve(opts.bundleDir);
  const found = await walkBundle(root, log);

  const entry = posix.normalize(opts.entry.replaceAll('\\', '/'));
  if (isAbsolute(entry) || entry.startsWith('../') || entry === '..' || !(found.files.some((f) => f.key === entry) || entry in found.symlinks)) {
    throw new AppError('OUTPUT_NOT_FOUND', `The server entry ${JSON.stringify(opts.entry)} is not a file in the server bundle ${opts.bundleDir}.`, {
      hint: 'Check that the build writes the server (e.g. output: "standalone" for Next.js, adapter-node for SvelteKit) and that the entry path is relative to the bundle folder.',
    });
  }

  const known = new Set(Object.values(opts.previous?.files ?? {}).map((f) => f.hash));
  const uploads = new Map<string, Promise<boolean>>();
  let bytesUploaded = 0;
  let filesUploaded = 0;
  const upload = (hash: string, size: number, path: string): Promise<boolean> => {
    let pending = uploads.get(hash);
    if (pending === undefined) {
      pending = (async () => {
        if (known.has(hash) || (await blobs.has(hash))) return false;
        const written = await blobs.putFile(hash, path);
        if (written) {
          bytesUploaded += size;
          filesUploaded += 1;
        }
        return written;
      })();
      uploads.set(hash, pending);
    }
    return pending;
  };

  const entries = await mapLimit(found.files, CONCURRENCY, async (file): Promise<[string, ServerFile]> => {
    const hash = await sha256File(file.path);
    await upload(hash, file.size, file.path);
    return [file.key, { hash, size: file.size, mode: file.mode }];
  });
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

  const bundle: ServerBundle = { entry, ...(opts.args === undefined || opts.args.length === 0 ? {} : { args: [...opts.args] }), files: Object.fromEntries(entries) };
  const links = Object.entries(found.symlinks).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (links.length > 0) bundle.symlinks = Object.fromEntries(links);

  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  log(`Packaged the server bundle (${entries.length} files, ${links.length} symlinks) in ${seconds}s: ${filesUploaded} new, ${formatBytes(bytesUploaded)} uploaded`);
  return { bundle, filesTotal: entries.length, filesUploaded, bytesUploaded };
}

interface BundleFile {
  key: string;
  path: string;
  size: number;
  mode: number;
}

/** Regular files and symlinks under root, without following any symlink. */
const CACHE_DIRS = new Set(['.next/cache', 'node_modules/.cache', 'node_modules/.astro', 'node_modules/.vite']);
function isCacheDir(prefix: string, name: string): boolean {
  return CACHE_DIRS.has(prefix === '' ? name : `${prefix}/${name}`);
}

async function walkBundle(root: string, log: LogFn): Promise<{ files: BundleFile[]; symlinks: Record<string, string> }> {
  const files: BundleFile[] = [];
  const symlinks: Record<string, string> = {};
  // the build's folder: it must be a real one (the build resolves it inside the checkout), and nothing below is followed
  if (!(await lstat(root)).isDirectory()) throw new Error(`the server bundle folder ${root} is a symlink or not a folder`);
  const realRoot = await realpath(root);
  const skip = (key: string, why: string) => log(`Warning: skipped ${key} in the server bundle: ${why}`);

  const visit = async (dir: string, prefix: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const entry of entries) {
      const name = entry.name;
      // never part of a server: history, Slipway's own staging, and caches builds rewrite
      if (prefix === '' && (name === '.git' || name === '.slipway-static')) continue;
      if (isCacheDir(prefix, name)) continue;
      const key = prefix === '' ? name : `${prefix}/${name}`;
      if (name.includes('\\')) {
        skip(key, 'a backslash in a file name');
        continue;
      }
      const path = join(dir, name);
      const info = await lstat(path);
      if (info.isDirectory()) await visit(path, key);
      else if (info.isFile()) files.push({ key, path, size: info.size, mode: (info.mode & 0o111) !== 0 ? 0o755 : 0o644 });
      else if (info.isSymbolicLink()) {
        const target = linkTarget(key, await readlink(path), [root, realRoot]);
        if (target === undefined) skip(key, 'symlink points outside the bundle');
        else symlinks[key] = target;
      } else skip(key, 'not a regular file, folder or symlink');
    }
  };

  await visit(root, '');
  return { files, symlinks };
}

/**
 * The target of the link at `key`, rewritten as the shortest relative path, or undefined when
 * it leaves the bundle. Normalising matters: a target like `x/../y` where `x` is itself a link
 * could climb out in the kernel's resolution while looking inside on paper; `y` cannot.
 * Absolute targets inside the bundle (as some installers write them) become relative.
 */
function linkTarget(key: string, raw: string, roots: string[]): string | undefined {
  const dir = posix.dirname(key);
  let resolved: string;
  if (isAbsolute(raw)) {
    const rel = roots.map((r) => relative(r, raw)).find((r) => r === '' || (!r.startsWith(`..${sep}`) && r !== '..' && !isAbsolute(r)));
    if (rel === undefined) return undefined;
    resolved = rel === '' ? '.' : rel.split(sep).join('/');
  } else {
    resolved = posix.normalize(posix.join(dir, raw));
  }
  if (resolved === '..' || resolved.startsWith('../') || resolved.startsWith('/')) return undefined;
  if (resolved.endsWith('/')) resolved = resolved.slice(0, -1);
  return posix.relative(dir, resolved) || '.';
}
