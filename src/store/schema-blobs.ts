/** A build cache entry shared through the blob store (see src/build/cache-share.ts). */
export interface BuildCacheEntryTable {
  project_id: string;
  /** 'deps' | 'framework' | 'turbo' */
  kind: string;
  /** the dependency key, or 'current' for the newest framework/turbo cache */
  key: string;
  /** sha256 of the entry's tar archive, a blob in the store */
  blob_hash: string;
  bytes: number;
  created_at: number;
}
