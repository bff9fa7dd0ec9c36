import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Kysely } from 'kysely';
import { type BlobStore, sha256File } from '../blobs/index.js';
import { toError } from '../errors/index.js';
import type { Database } from '../store/index.js';
import { hasWritableFile, packTree, unpackTree } from './cache-archive.js';
import { readJson, short } from './cache-util.js';
import { formatSeconds } from './run.js';

/** 'deps': a dependency entry (key: the dependency key); a cache slot's name ('framework', 'turbo'; key 'current') */
export type SharedKind = string;

/**
 * One project's build caches as the other workers see them: each entry is one tar archive in
 * the blob store, recorded with its project, kind and key. A worker that saves an entry shares
 * it; a worker with a local miss takes the shared one and keeps it as its local copy. Never
 * shared between projects: the project is part of every lookup.
 */
export interface SharedBuildCache {
  /** Unpack the shared entry into `into` (made here). false: none is shared, or it could not be read (logged). */
  pull(kind: SharedKind, key: string, into: string, scratch: string): Promise<boolean>;
  /** Share the folder `dir` as the entry; replaces the one shared under the same kind and key. false: it could not (logged); never throws. */
  push(kind: SharedKind, key: string, dir: string, scratch: string): Promise<boolean>;
}

/** dependency entries shared per project; older ones are forgotten (their blobs stay, content-addressed) */
const SHARED_DEPENDENCY_ENTRIES = 5;

/**
 * The shared build cache of `projectId`, recorded in `build_cache_entries` and stored in `blobs`
 * (the bucket, so every worker reaches it). `log` gets what a build log should say.
 *
 * @example
 * const shared = createSharedBuildCache({ db: store.db, blobs: bucket, projectId: project.id, log });
 * await shared.pull('deps', key, join(cacheDir, 'tmp', 'pulled'), join(cacheDir, 'tmp'));
 */
export function createSharedBuildCache(opts: { db: Kysely<Database>; blobs: BlobStore; projectId: string; log: (line: string) => void }): SharedBuildCache {
  const { db, blobs, projectId, log } = opts;
  return {
    async pull(kind, key, into, scratch) {
      const row = await db
        .selectFrom('build_cache_entries')
        .select(['blob_hash', 'bytes'])
        .where('project_id', '=', projectId)
        .where('kind', '=', kind)
        .where('key', '=', key)
        .executeTakeFirst()
        .catch((err: unknown) => {
          log(`Warning: could not look up the shared ${kind} cache (${toError(err).message})`);
          return undefined;
        });
      if (row === undefined) return false;
      const file = join(scratch, `pull-${kind}-${randomBytes(6).toString('hex')}.tar`);
      try {
        // the store checks the archive against its hash before the first byte comes
        const stream = await blobs.stream(row.blob_hash);
        if (stream === undefined) {
          log(`Warning: the shared ${kind} cache is recorded but its archive is missing from the blob store`);
          return false;
        }
        await pipeline(stream, createWriteStream(file, { mode: 0o600 }));
        await unpackTree(file, into);
        return true;
      } catch (err) {
        log(`Warning: could not restore the shared ${kind} cache (${toError(err).message})`);
        await rm(into, { recursive: true, force: true });
        return false;
      } finally {
        await rm(file, { force: true });
      }
    },

    async push(kind, key, dir, scratch) {
      const file = join(scratch, `push-${kind}-${randomBytes(6).toString('hex')}.tar`);
      try {
        await packTree(dir, file);
        const [hash, { size }] = await Promise.all([sha256File(file), stat(file)]);
        await blobs.putFile(hash, file);
        const now = Date.now();
        await db
          .insertInto('build_cache_entries')
          .values({ project_id: projectId, kind, key, blob_hash: hash, bytes: size, created_at: now })
          .onConflict((oc) => oc.columns(['project_id', 'kind', 'key']).doUpdateSet({ blob_hash: hash, bytes: size, created_at: now }))
          .execute();
        if (kind === 'deps') await forgetOldEntries(db, projectId, kind);
        return true;
      } catch (err) {
        log(`Warning: could not share the ${kind} cache with other workers (${toError(err).message})`);
        return false;
      } finally {
        await rm(file, { force: true });
      }
    },
  };
}

async function forgetOldEntries(db: Kysely<Database>, projectId: string, kind: string): Promise<void> {
  const keep = await db
    .selectFrom('build_cache_entries')
    .select('key')
    .where('project_id', '=', projectId)
    .where('kind', '=', kind)
    .orderBy('created_at', 'desc')
    .limit(SHARED_DEPENDENCY_ENTRIES)
    .execute();
  if (keep.length < SHARED_DEPENDENCY_ENTRIES) return;
  await db
    .deleteFrom('build_cache_entries')
    .where('project_id', '=', projectId)
    .where('kind', '=', kind)
    .where(
      'key',
      'not in',
      keep.map((r) => r.key),
    )
    .execute();
}

/** What pullShared and pushShared need of a ProjectCache (./cache.ts). */
interface CacheFolder {
  dir: string;
  shared?: SharedBuildCache | undefined;
}

/**
 * On a local miss: take the shared entry and put it at `place` (its local copy from now on), in
 * one rename, so a reader sees a whole entry or none. true: it is there now.
 */
export async function pullShared(cache: CacheFolder, kind: SharedKind, key: string, place: string, log: (line: string) => void): Promise<boolean> {
  if (cache.shared === undefined) return false;
  const started = Date.now();
  const scratch = join(cache.dir, 'tmp');
  const into = join(scratch, `shared-${kind}-${randomBytes(6).toString('hex')}`);
  if (!(await cache.shared.pull(kind, key, into, scratch))) return false;
  try {
    const info = await readJson<{ readOnly?: boolean }>(join(into, 'entry.json'));
    if (info === undefined) throw new Error('it has no entry.json');
    // an entry saved by a root worker is read-only, file by file (see cache.ts): what this root
    // worker unpacked is root's (tar does not restore owners), and must still have no write bit
    if (info.readOnly === true && process.getuid?.() === 0 && (await hasWritableFile(into))) throw new Error('a file of a read-only entry is writable');
    await mkdir(dirname(place), { recursive: true });
    await rename(into, place).catch(async (err: NodeJS.ErrnoException) => {
      // another build of this project put the same entry in place first: keep theirs
      if (err.code !== 'EEXIST' && err.code !== 'ENOTEMPTY') throw err;
    });
    log(`Fetched the ${kind === 'deps' ? `shared node_modules (key ${short(key)})` : `shared ${kind} cache`} from the blob store in ${formatSeconds(Date.now() - started)}`);
    return true;
  } catch (err) {
    log(`Warning: not using the shared ${kind} cache (${toError(err).message})`);
    return false;
  } finally {
    await rm(into, { recursive: true, force: true });
  }
}

/** After a local save: share the entry at `dir` with the other workers. */
export async function pushShared(cache: CacheFolder, kind: SharedKind, key: string, dir: string, log: (line: string) => void): Promise<void> {
  if (cache.shared === undefined) return;
  const started = Date.now();
  if (!(await cache.shared.push(kind, key, dir, join(cache.dir, 'tmp')))) return;
  log(`Shared the ${kind === 'deps' ? 'node_modules' : kind} cache with other workers in ${formatSeconds(Date.now() - started)}`);
}
