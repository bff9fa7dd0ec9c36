import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileBlobStore } from '../blobs/index.js';
import { toError } from '../errors/index.js';
import type { ServerBundle } from '../manifest/index.js';
import { collectBundles, touchBundle } from './gc.js';
import { discardBundle, materializeBundle } from './materialize.js';
import { BundleIntegrityError, verifyBundle, type VerifiedLooks } from './verify.js';

const DAY_MS = 24 * 60 * 60_000;
/** deployments whose verified file looks are kept; past this the oldest is forgotten (its next start hashes its files again) */
const MAX_VERIFIED_BUNDLES = 500;

export interface BundleDirOptions {
  blobs: FileBlobStore;
  /** one folder per deployment, e.g. `<data-dir>/runtime` */
  dir: string;
  /** one writable folder per deployment, for what its server writes (default: `<dir>-data`, e.g. `<data-dir>/runtime-data`) */
  dataDir?: string | undefined;
  /** a bundle file's bytes do not match its hash: record it for an operator (the server does not start) */
  onIntegrityError?: ((deploymentId: string, reason: string) => void) | undefined;
  log: (message: string, error?: Error) => void;
  /** deployments whose servers run or start here: their bundles are never collected */
  inUse: () => Iterable<string>;
  /** collect unused bundles at start and every `everyMs` (default: a 24th of unusedMs, at most an hour); off when undefined */
  collect?: { unusedMs: number; everyMs?: number } | undefined;
}

/** A deployment's bundle on disk, ready to run. */
export interface MaterializedBundle {
  /** the bundle, read-only: the server's working directory */
  dir: string;
  /**
   * the deployment's own writable folder, `<dataDir>/<deploymentId>`: the one place its server
   * may write (the sandbox binds it where the framework writes, e.g. Next.js's `.next/cache`);
   * removed with the bundle when it is collected
   */
  dataDir: string;
}

/**
 * The runtime's folder of materialized server bundles: written from the blob store on demand,
 * checked against their hashes before every start (./verify.ts), and bundles no process used
 * for a while removed (see ./gc.ts) with their writable folders. A write waits for a collection
 * under way, so the collection cannot remove a folder between its check and its use.
 */
export class BundleDir {
  private readonly materializing = new Map<string, Promise<MaterializedBundle>>();
  /** deployment -> how its bundle's files looked when they last hashed right: a start re-reads only changed files */
  private readonly verified = new Map<string, VerifiedLooks>();
  private readonly dataRoot: string;
  private collecting: Promise<string[]> | undefined;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: BundleDirOptions) {
    this.dataRoot = opts.dataDir ?? `${opts.dir}-data`;
    const gc = opts.collect;
    if (gc !== undefined) {
      void this.collect();
      this.timer = setInterval(() => void this.collect(), gc.everyMs ?? Math.min(60 * 60_000, Math.max(1000, gc.unusedMs / 24)));
      this.timer.unref();
    }
  }

  /**
   * Write a deployment's bundle to `<dir>/<deploymentId>/` unless it is there, check its bytes,
   * and make its writable folder; returns both, the bundle marked as used now. Concurrent calls
   * share one write; only the files' verified looks are remembered after it (the folder is
   * checked each time: a collection may have removed it since). A file whose bytes changed
   * rejects with a BundleIntegrityError, logged and reported to onIntegrityError.
   */
  materialize(deploymentId: string, bundle: ServerBundle): Promise<MaterializedBundle> {
    let pending = this.materializing.get(deploymentId);
    if (pending === undefined) {
      const after = this.collecting?.then(() => undefined) ?? Promise.resolve();
      pending = after.then(async () => {
        const dir = await materializeBundle(this.opts.blobs, this.opts.dir, deploymentId, bundle);
        await this.verify(dir, deploymentId, bundle);
        const dataDir = join(this.dataRoot, deploymentId);
        await mkdir(dataDir, { recursive: true, mode: 0o700 });
        await touchBundle(dir);
        return { dir, dataDir };
      });
      this.materializing.set(deploymentId, pending);
      const done = pending;
      const forget = () => this.materializing.get(deploymentId) === done && this.materializing.delete(deploymentId);
      void done.then(forget, forget);
    }
    return pending;
  }

  private async verify(dir: string, deploymentId: string, bundle: ServerBundle): Promise<void> {
    try {
      const looks = await verifyBundle(dir, deploymentId, bundle, this.verified.get(deploymentId));
      this.verified.delete(deploymentId);
      if (this.verified.size >= MAX_VERIFIED_BUNDLES) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(deploymentId, looks);
    } catch (err) {
      this.verified.delete(deploymentId);
      if (err instanceof BundleIntegrityError) {
        this.opts.log(`${deploymentId}: refusing to start the server: ${err.message}`);
        this.opts.onIntegrityError?.(deploymentId, err.message);
        // its copies may hold the changed bytes: the next start writes it again from the store (repaired, perhaps)
        await discardBundle(this.opts.dir, deploymentId).catch(() => undefined);
      }
      throw err;
    }
  }

  /** Remove bundles not in use here and not used for `unusedMs` by any process; the ones in use are marked as used now. Returns the deployment ids removed. */
  collect(unusedMs = this.opts.collect?.unusedMs ?? DAY_MS): Promise<string[]> {
    this.collecting ??= (async () => {
      try {
        const inUse = new Set<string>([...this.materializing.keys(), ...this.opts.inUse()]);
        await Promise.all([...inUse].map((id) => touchBundle(join(this.opts.dir, id))));
        const removed = await collectBundles(this.opts.dir, unusedMs, inUse);
        for (const id of removed) this.verified.delete(id);
        await this.collectDataDirs(inUse);
        if (removed.length > 0) this.opts.log(`removed ${removed.length} server bundle(s) unused for ${Math.round(unusedMs / 3_600_000)} h: ${removed.join(', ')}`);
        return removed;
      } catch (err) {
        this.opts.log('collecting unused server bundles failed', toError(err));
        return [];
      } finally {
        this.collecting = undefined;
      }
    })();
    return this.collecting;
  }

  /** Remove the writable folders of deployments whose bundles are gone (collected here or by another process) and that are not in use. */
  private async collectDataDirs(inUse: ReadonlySet<string>): Promise<void> {
    const bundles = new Set(await readdir(this.opts.dir).catch(() => []));
    for (const id of await readdir(this.dataRoot).catch(() => [])) {
      if (!bundles.has(id) && !inUse.has(id)) await rm(join(this.dataRoot, id), { recursive: true, force: true });
    }
  }

  /** Stop collecting; waits for a collection under way. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.collecting;
  }
}
