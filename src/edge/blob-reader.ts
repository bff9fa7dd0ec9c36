import type { Readable } from 'node:stream';
import { isBlobIntegrityError, type BlobStore } from '../blobs/index.js';
import type { BlobCache } from './blob-cache.js';
import type { Representation } from './site.js';

/** flagged deployments remembered at most (a memory bound; forgetting only costs one more store write) */
const MAX_FLAGGED = 10_000;

export interface BlobReaderOptions {
  blobs: BlobStore;
  cache: BlobCache;
  /** the edge's rate-limited log */
  report: (message: string, error?: unknown) => void;
  /** record a deployment's integrity failure for an operator (see SiteLookup.flagIntegrityError) */
  flag: ((deploymentId: string, reason: string) => Promise<void>) | undefined;
}

/**
 * How the edge reads blobs it does not hold in memory. The blob store verifies every read
 * against the hash (see BlobStore), so bytes that reach the memory cache or a stream match the
 * manifest. A blob whose bytes changed is logged and read once more (a store with a second
 * copy, or a half-finished rewrite, may answer right the next time); when it fails again the
 * deployment is flagged and the caller answers with a 500 page. Never the changed bytes.
 */
export class BlobReader {
  private readonly loading = new Map<string, Promise<Buffer>>();
  private readonly flagged = new Set<string>();

  constructor(private readonly opts: BlobReaderOptions) {}

  /** A representation's whole bytes, verified, kept in the memory cache when they fit. Concurrent loads share one read. */
  load(rep: Representation, deploymentId: string, key: string): Promise<Buffer> {
    return this.verified(deploymentId, key, rep.hash, () => this.loadOnce(rep));
  }

  /** A stream of a representation (or a range of it), opened only once the whole blob matches its hash. */
  open(rep: Representation, deploymentId: string, key: string, range: { start: number; end: number }): Promise<Readable> {
    return this.verified(deploymentId, key, rep.hash, async () => {
      const stream = await this.opts.blobs.stream(rep.hash, range);
      if (stream === undefined) throw new Error(`blob ${rep.hash} is missing from the blob store`);
      return stream;
    });
  }

  /** Run `read`; a BlobIntegrityError is logged and `read` tried once more, then the deployment is flagged and the error thrown. */
  async verified<T>(deploymentId: string, key: string, hash: string, read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (first) {
      if (!isBlobIntegrityError(first)) throw first;
      this.opts.report(`deployment ${deploymentId}: ${key} does not match the manifest: expected sha256 ${hash}, the blob store has ${first.actual}; reading it again`);
      try {
        return await read();
      } catch (again) {
        if (isBlobIntegrityError(again)) this.flag(deploymentId, `${key}: expected sha256 ${hash}, the blob store has ${again.actual}; it is answered with a 500`);
        throw again;
      }
    }
  }

  private loadOnce(rep: Representation): Promise<Buffer> {
    let loading = this.loading.get(rep.hash);
    if (loading === undefined) {
      loading = this.opts.blobs
        .get(rep.hash)
        .then((bytes) => {
          if (bytes === undefined) throw new Error(`blob ${rep.hash} is missing from the blob store`);
          if (bytes.length !== rep.size) throw new Error(`blob ${rep.hash} has ${bytes.length} bytes, the manifest says ${rep.size}`);
          rep.slot = this.opts.cache.set(rep.hash, bytes);
          return bytes;
        })
        .finally(() => this.loading.delete(rep.hash));
      this.loading.set(rep.hash, loading);
    }
    return loading;
  }

  /** Flag once per deployment per process: a corrupt hot file must not cost a store write per request. */
  private flag(deploymentId: string, reason: string): void {
    this.opts.report(`deployment ${deploymentId} flagged: ${reason}`);
    if (this.flagged.has(deploymentId) || this.opts.flag === undefined) return;
    if (this.flagged.size >= MAX_FLAGGED) this.flagged.clear();
    this.flagged.add(deploymentId);
    this.opts.flag(deploymentId, reason).catch((error: unknown) => {
      this.flagged.delete(deploymentId); // the next failure tries again
      this.opts.report(`could not flag deployment ${deploymentId} in the store`, error);
    });
  }
}
