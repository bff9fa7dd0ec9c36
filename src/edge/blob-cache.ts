/** A slot for one blob's bytes; `bytes` becomes undefined when the cache evicts it. */
export interface CachedBlob {
  readonly hash: string;
  bytes: Buffer | undefined;
}

/**
 * Hot blobs in memory, least recently used evicted first, bounded by total bytes.
 * A Map keeps insertion order, so re-inserting on use makes its first key the LRU one.
 * Callers keep the slot they got and check `slot.bytes` on the hot path, which spares a
 * hash lookup per request.
 */
export class BlobCache {
  private readonly slots = new Map<string, CachedBlob>();
  private used = 0;

  constructor(readonly maxBytes: number) {}

  get bytesUsed(): number {
    return this.used;
  }

  get(hash: string): CachedBlob | undefined {
    const slot = this.slots.get(hash);
    if (slot !== undefined) this.touch(slot);
    return slot;
  }

  /** Mark a slot as just used. */
  touch(slot: CachedBlob): void {
    this.slots.delete(slot.hash);
    this.slots.set(slot.hash, slot);
  }

  /** Keep `bytes` for `hash`; undefined (nothing kept) when the blob exceeds the whole budget. */
  set(hash: string, bytes: Buffer): CachedBlob | undefined {
    const existing = this.slots.get(hash);
    if (existing !== undefined) return existing;
    if (bytes.length > this.maxBytes) return undefined;
    const slot: CachedBlob = { hash, bytes };
    this.slots.set(hash, slot);
    this.used += bytes.length;
    for (const [oldest, victim] of this.slots) {
      if (this.used <= this.maxBytes) break;
      this.slots.delete(oldest);
      this.used -= victim.bytes?.length ?? 0;
      victim.bytes = undefined;
    }
    return slot;
  }
}
