import { randomBytes } from 'node:crypto';
import { readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobStore } from '../blobs/index.js';
import { evict, openProjectCache } from '../build/cache.js';
import { parseManifest } from '../manifest/index.js';
import type { SecretBox } from '../secrets.js';
import type { Store } from '../store/index.js';
import { type AwsEndpoints, type AwsPruneReport, pruneAws } from '../targets/aws/index.js';
import { LEASE_MS, releaseLease, renewLease, startSweep, takeLease } from './fence.js';
import { planRemovals, removeDeployments, type RemovedDeployment } from './plan.js';

/** Blobs written less than this long ago are never swept: an upload whose deployment is not recorded yet (prebuilt uploads, a build mid-way). */
export const DEFAULT_GRACE_MS = 60 * 60_000;
/** deletes in flight at once (S3 answers each in a round trip) */
const DELETE_CONCURRENCY = 16;
/** the most blob hashes a report lists (the counts and bytes cover all of them) */
const SAMPLE = 50;

export interface CollectDeps {
  store: Store;
  blobs: BlobStore;
  dataDir: string;
  /** given: removed deployments' Lambda versions and S3 files go too (src/targets/aws/prune.ts) */
  aws?: { box: SecretBox; endpoints?: AwsEndpoints };
}

export interface CollectOptions {
  dryRun?: boolean;
  /** see DEFAULT_GRACE_MS; tests pass 0 to prove the fence alone keeps reused blobs */
  graceMs?: number;
  /** who holds the lease (default: this process) */
  owner?: string;
  now?: number;
  log?: (line: string) => void;
}

/** What a collection removed, or in a dry run would remove. */
export interface CollectionReport {
  dryRun: boolean;
  /** false: another worker was collecting, nothing was done */
  ran: boolean;
  startedAt: number;
  finishedAt: number;
  deployments: RemovedDeployment[];
  blobs: { count: number; bytes: number; sample: string[] };
  kept: { deployments: number; blobs: number; bytes: number };
  serverBundles: string[];
  buildCacheEntries: number;
  /** the AWS side of removed deployments (when the collector was given AWS access) */
  aws?: AwsPruneReport;
  warnings: string[];
}

/**
 * Retention, then mark and sweep: remove the deployments retention lets go, mark every blob a
 * remaining manifest references (files, compressed variants, server bundle files, the manifest
 * itself), then delete the other blobs older than the grace period, the server bundles of
 * removed deployments and build cache entries past their cap. One collector at a time across
 * workers (a lease in the store); builds finishing meanwhile are protected by the fence
 * (./fence.ts). A dry run takes no lease and changes nothing.
 */
export async function collectGarbage(deps: CollectDeps, opts: CollectOptions = {}): Promise<CollectionReport> {
  const dryRun = opts.dryRun === true;
  const startedAt = opts.now ?? Date.now();
  const owner = opts.owner ?? `${process.pid}-${randomBytes(4).toString('hex')}`;
  const log = opts.log ?? (() => {});
  const report: CollectionReport = {
    dryRun,
    ran: true,
    startedAt,
    finishedAt: startedAt,
    deployments: [],
    blobs: { count: 0, bytes: 0, sample: [] },
    kept: { deployments: 0, blobs: 0, bytes: 0 },
    serverBundles: [],
    buildCacheEntries: 0,
    warnings: [],
  };
  if (!dryRun && !(await takeLease(deps.store, owner))) return { ...report, ran: false };
  try {
    const planned = await planRemovals(deps.store.db, startedAt);
    let removedIds: Set<string>;
    if (dryRun) {
      report.deployments = planned;
      removedIds = new Set(planned.map((d) => d.id));
    } else {
      removedIds = new Set(await removeDeployments(deps.store, planned));
      report.deployments = planned.filter((d) => removedIds.has(d.id));
      // from here on builds that read the fence earlier package again before they go ready
      await startSweep(deps.store, owner);
    }
    const lease = leaseKeeper(deps.store, owner, dryRun);
    const marked = await markBlobs(deps, removedIds, report);
    if (marked !== undefined) await sweepBlobs(deps.blobs, marked, startedAt - (opts.graceMs ?? DEFAULT_GRACE_MS), dryRun, lease, report);
    report.serverBundles = await collectServerBundles(deps, removedIds, dryRun);
    // after the edge side: whatever AWS answers, the rest of the collection is done
    if (deps.aws !== undefined) {
      const warn = (w: string) => report.warnings.push(w);
      const aws = await pruneAws({ db: deps.store.db, ...deps.aws }, { dryRun, removing: removedIds, stillHeld: () => lease.stillHeld(), warn }).catch((err: unknown) => {
        warn(`AWS: pruning failed (${err instanceof Error ? err.message : String(err)}); the next collection tries again`);
        return undefined;
      });
      if (aws !== undefined) report.aws = aws;
    }
    if (!dryRun) report.buildCacheEntries = await trimBuildCaches(deps.dataDir, log);
    report.finishedAt = Date.now();
    log(
      `${dryRun ? 'Would remove' : 'Removed'} ${report.deployments.length} deployments and ${report.blobs.count} blobs (${report.blobs.bytes} bytes); kept ${report.kept.deployments} deployments' ${report.kept.blobs} blobs`,
    );
    return report;
  } finally {
    if (!dryRun) await releaseLease(deps.store, owner, report);
  }
}

/**
 * hash -> marked: every blob a deployment that stays references, and every shared build cache
 * archive. undefined when a manifest
 * could not be read: its blobs are unknown, so nothing is swept this time.
 */
async function markBlobs(deps: CollectDeps, removed: ReadonlySet<string>, report: CollectionReport): Promise<Set<string> | undefined> {
  const rows = await deps.store.db.selectFrom('deployments').select(['id', 'manifest_hash']).where('manifest_hash', 'is not', null).where('status', '!=', 'removed').execute();
  const marked = new Set<string>();
  for (const row of rows) {
    if (removed.has(row.id) || row.manifest_hash === null) continue;
    report.kept.deployments++;
    marked.add(row.manifest_hash);
    let bytes: Buffer | undefined;
    try {
      bytes = await deps.blobs.get(row.manifest_hash);
    } catch (err) {
      report.warnings.push(`deployment ${row.id}: its manifest ${row.manifest_hash} could not be read (${(err as Error).message}); no blob was swept`);
      return undefined;
    }
    if (bytes === undefined) {
      // already unservable; what it referenced cannot be known, so nothing is swept
      report.warnings.push(`deployment ${row.id}: its manifest ${row.manifest_hash} is missing from the blob store; no blob was swept`);
      return undefined;
    }
    const manifest = parseManifest(bytes);
    for (const entry of Object.values(manifest.files)) {
      marked.add(entry.hash);
      if (entry.gzip !== undefined) marked.add(entry.gzip.hash);
      if (entry.br !== undefined) marked.add(entry.br.hash);
    }
    for (const file of Object.values(manifest.server?.files ?? {})) marked.add(file.hash);
  }
  // the build caches shared through the bucket (src/build/cache-share.ts): an archive stays while
  // its entry does; one an entry no longer names (replaced by a newer save) goes
  for (const row of await deps.store.db.selectFrom('build_cache_entries').select('blob_hash').execute()) marked.add(row.blob_hash);
  return marked;
}

interface LeaseKeeper {
  /** false once this collector may no longer delete (its lease ran out or was taken) */
  stillHeld(): Promise<boolean>;
}

/** Renews the lease every minute while deleting; a collector that cannot renew stops before the lease lapses. */
function leaseKeeper(store: Store, owner: string, dryRun: boolean): LeaseKeeper {
  let deadline = Date.now() + LEASE_MS;
  let renewedAt = Date.now();
  return {
    async stillHeld() {
      if (dryRun) return true;
      if (Date.now() - renewedAt > 60_000) {
        renewedAt = Date.now();
        if (await renewLease(store, owner)) deadline = renewedAt + LEASE_MS;
        else return false;
      }
      // a margin: builds treat the sweep as over once lease_until passes
      return Date.now() < deadline - 30_000;
    },
  };
}

async function sweepBlobs(blobs: BlobStore, marked: ReadonlySet<string>, writtenBefore: number, dryRun: boolean, lease: LeaseKeeper, report: CollectionReport): Promise<void> {
  let batch: { hash: string; size: number }[] = [];
  const flush = async () => {
    if (!(await lease.stillHeld())) throw new Error('the garbage collector lost its lease; the sweep stopped');
    const results = dryRun ? batch.map(() => true) : await Promise.all(batch.map((b) => blobs.delete(b.hash)));
    batch.forEach((b, i) => {
      if (!results[i]) return;
      report.blobs.count++;
      report.blobs.bytes += b.size;
      if (report.blobs.sample.length < SAMPLE) report.blobs.sample.push(b.hash);
    });
    batch = [];
  };
  for await (const blob of blobs.list()) {
    if (marked.has(blob.hash)) {
      report.kept.blobs++;
      report.kept.bytes += blob.size;
      continue;
    }
    // written lately: perhaps by an upload whose deployment is not recorded yet
    if (blob.modifiedAt >= writtenBefore) continue;
    batch.push({ hash: blob.hash, size: blob.size });
    if (batch.length >= DELETE_CONCURRENCY) await flush();
  }
  if (batch.length > 0) await flush();
}

/** The materialized server bundles (<data>/runtime/<deployment id>) of deployments that were (or, in a dry run, would be) removed. */
async function collectServerBundles(deps: CollectDeps, removed: ReadonlySet<string>, dryRun: boolean): Promise<string[]> {
  const dir = join(deps.dataDir, 'runtime');
  const names = (await readdir(dir, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  if (names.length === 0) return [];
  const live = new Set<string>();
  for (let i = 0; i < names.length; i += 500) {
    const rows = await deps.store.db
      .selectFrom('deployments')
      .select('id')
      .where('id', 'in', names.slice(i, i + 500))
      .where('status', '!=', 'removed')
      .execute();
    for (const r of rows) if (!removed.has(r.id)) live.add(r.id);
  }
  const gone = names.filter((n) => !live.has(n));
  if (dryRun) return gone;
  for (const name of gone) {
    // renamed out first (as the runtime's own collector does): a server never starts in a half-removed folder
    const trash = join(dir, `.trash-${name}-${randomBytes(4).toString('hex')}`);
    try {
      await rename(join(dir, name), trash);
    } catch {
      continue;
    }
    await rm(trash, { recursive: true, force: true });
  }
  return gone;
}

/** Each project's build cache (<data>/project-cache/<project id>) back under its cap. */
async function trimBuildCaches(dataDir: string, log: (line: string) => void): Promise<number> {
  const root = join(dataDir, 'project-cache');
  let evicted = 0;
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const dir = join(root, name);
    const cache = await openProjectCache({ dir }, dir);
    evicted += (await evict(cache, undefined, (line) => log(`${name}: ${line}`))).length;
  }
  return evicted;
}
