/**
 * A blob whose bytes no longer hash to its name: changed on disk (or in the bucket) after it
 * was stored. Whoever reads it for serving or running must not use the bytes.
 */
export class BlobIntegrityError extends Error {
  constructor(
    readonly hash: string,
    /** sha256 of the bytes actually read */
    readonly actual: string,
  ) {
    super(`blob ${hash} is corrupt: its bytes hash to ${actual}`);
    this.name = 'BlobIntegrityError';
  }
}

export function isBlobIntegrityError(err: unknown): err is BlobIntegrityError {
  return err instanceof BlobIntegrityError;
}
