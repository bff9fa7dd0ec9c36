import { join } from 'node:path';
import type { LocalBlobStore } from '../blobs/index.js';
import { toError } from '../errors/index.js';
import type { ServerBundle } from '../manifest/index.js';
import { collectBundles, touchBundle } from './gc.js';
import { materializeBundle } from './materialize.js';

const DAY_MS = 24 * 60 * 60_000;

export interface BundleDirOptions {
  blobs: LocalBlobStore;
  /** one folder per deployment, e.g. `<data-dir>/runtime` */
  dir: string;
  log: (message: string, error?: Error) => void;
  /** deployments whose servers run or start here: their bundles are never collected */
  inUse: () => Iterable<string>;
  /** collect unused bundles at start and every `everyMs` (default: a 24th of unusedMs, at most an hour); off when undefined */
  collect?: { unusedMs: number; everyMs?: number } | undefined;
}

/**
 * The runtime's folder of materialized server bundles: written from the blob store on demand,
 * and bundles no process used for a while removed (see ./gc.ts). A write waits for a collection
 * under way, so the collection cannot remove a folder between its check and its use.
 */
export class BundleDir {
  private readonly materializing = new Map<string, Promise<string>>();
  private collecting: Promise<string[]> | undefined;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: BundleDirOptions) {
    const gc = opts.collect;
    if (gc !== undefined) {
      void this.collect();
      this.timer = setInterval(() => void this.collect(), gc.everyMs ?? Math.min(60 * 60_000, Math.max(1000, gc.unusedMs / 24)));
      this.timer.unref();
    }
  }

  /**
   * Write a deployment's bundle to `<dir>/<deploymentId>/` unless it is there; returns that
   * folder, marked as used now. Concurrent calls share one write; nothing is remembered after
   * it (the folder is checked each time: a collection may have removed it since).
   */
  materialize(deploymentId: string, bundle: ServerBundle): Promise<string> {
    let pending = this.materializing.get(deploymentId);
    if (pending === undefined) {
      const after = this.collecting?.then(() => undefined) ?? Promise.resolve();
      pending = after.then(() => materializeBundle(this.opts.blobs, this.opts.dir, deploymentId, bundle)).then(async (dir) => {
        await touchBundle(dir);
        return dir;
      });
      this.materializing.set(deploymentId, pending);
      const done = pending;
      const forget = () => this.materializing.get(deploymentId) === done && this.materializing.delete(deploymentId);
      void done.then(forget, forget);
    }
    return pending;
  }

  /** Remove bundles not in use here and not used for `unusedMs` by any process; the ones in use are marked as used now. Returns the deployment ids removed. */
  collect(unusedMs = this.opts.collect?.unusedMs ?? DAY_MS): Promise<string[]> {
    this.collecting ??= (async () => {
      try {
        const inUse = new Set<string>([...this.materializing.keys(), ...this.opts.inUse()]);
        await Promise.all([...inUse].map((id) => touchBundle(join(this.opts.dir, id))));
        const removed = await collectBundles(this.opts.dir, unusedMs, inUse);
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

  /** Stop collecting; waits for a collection under way. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.collecting;
  }
}
