import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { isBlobHash } from '../manifest/index.js';
import type { BlobStore, StoredBlob } from './index.js';
import { sha256 } from './hash.js';
import { BlobIntegrityError } from './integrity.js';
import type { S3Location } from './s3-url.js';

/** multipart part size (S3's minimum is 5 MiB); files up to this size go in one PutObject */
const PART_SIZE = 8 * 1024 * 1024;
const MAX_VERIFIED = 100_000;
/**
 * A has() that said absent this recently spares put() its own HEAD: uploads ask has() first
 * (src/artifact), and a second round trip per new file only ever found another writer's
 * identical bytes, which a PUT of the same content-addressed object leaves as they were.
 */
const ABSENT_FRESH_MS = 10_000;

/** The bucket failed a request (unreachable, refused, denied): says which store, which operation, which blob. */
export class BlobStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BlobStoreError';
  }
}

export interface S3BlobStoreOptions {
  /** parts uploaded at once per putFile */
  queueSize?: number;
  /** where stream() downloads a blob to hash it before handing it out (default: the OS temp dir) */
  tmpDir?: string;
  /** overrides for the SDK client (tests: retries); credentials stay the SDK's default chain unless given */
  client?: Partial<S3ClientConfig>;
}

/**
 * Blobs as objects `<prefix><first two hex>/<hash>` in an S3-compatible bucket, through the AWS
 * SDK v3. Objects carry x-amz-meta-sha256; single-request uploads also send ChecksumSHA256 so a
 * server that checks it refuses bytes damaged on the way.
 *
 * stream() checks the whole blob before handing out bytes by downloading it to a local temp file
 * while hashing (memory stays flat for large bundles, and a range is then served from the file).
 * The object's ETag is remembered once it verified; later reads ask for just the range and are
 * trusted only when the server reports the same ETag, otherwise they verify again.
 */
export class S3BlobStore implements BlobStore {
  readonly client: S3Client;
  private readonly verifiedEtag = new Map<string, string>();
  /** hash -> when has() last found it absent */
  private readonly absentAt = new Map<string, number>();
  private tmp: Promise<string> | undefined;

  constructor(
    readonly location: S3Location,
    private readonly opts: S3BlobStoreOptions = {},
  ) {
    this.client = new S3Client({
      region: location.region,
      ...(location.endpoint === undefined ? {} : { endpoint: location.endpoint }),
      forcePathStyle: location.forcePathStyle,
      // the SDK's default (checksums on every request, aws-chunked trailers on streams) is
      // silently mangled by some S3-compatible servers: send checksums only where we set them
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...opts.client,
    });
  }

  keyOf(hash: string): string {
    if (!isBlobHash(hash)) throw new Error(`not a blob hash: ${hash}`);
    return `${this.location.prefix}${hash.slice(0, 2)}/${hash}`;
  }

  /**
   * Whether the bucket exists and these credentials may use it (HeadBucket). `definite`: the
   * server said no (missing bucket, denied); otherwise it could not be asked (down, unreachable).
   */
  async probe(): Promise<{ ok: true } | { ok: false; definite: boolean; message: string }> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.location.bucket }));
      return { ok: true };
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      return { ok: false, definite: status !== undefined && status >= 400 && status < 500, message: this.failed('HeadBucket', '(the bucket)', err).message };
    }
  }

  async has(hash: string): Promise<boolean> {
    const Key = this.keyOf(hash);
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key }));
      return true;
    } catch (err) {
      if (isNotFound(err)) {
        if (this.absentAt.size >= MAX_VERIFIED) this.absentAt.clear();
        this.absentAt.set(hash, Date.now());
        return false;
      }
      throw this.failed('HeadObject', Key, err);
    }
  }

  async put(hash: string, data: Buffer): Promise<boolean> {
    if (await this.storedAlready(hash)) return false;
    const Key = this.keyOf(hash);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.location.bucket,
          Key,
          Body: data,
          ContentLength: data.length,
          ChecksumSHA256: Buffer.from(hash, 'hex').toString('base64'),
          Metadata: { sha256: hash },
        }),
      );
    } catch (err) {
      throw this.failed('PutObject', Key, err);
    }
    return true;
  }

  async putFile(hash: string, filePath: string): Promise<boolean> {
    const { size } = await stat(filePath);
    if (size <= PART_SIZE) return this.put(hash, await readFile(filePath));
    if (await this.storedAlready(hash)) return false;
    const Key = this.keyOf(hash);
    const handle = await open(filePath, 'r');
    // an object only appears when CompleteMultipartUpload succeeds; on any failure the SDK
    // aborts the upload (leavePartsOnError false), so no half blob is ever visible
    const upload = new Upload({
      client: this.client,
      partSize: PART_SIZE,
      queueSize: this.opts.queueSize ?? 4,
      leavePartsOnError: false,
      params: { Bucket: this.location.bucket, Key, Body: handle.createReadStream({ autoClose: false }), Metadata: { sha256: hash } },
    });
    try {
      await upload.done();
    } catch (err) {
      throw this.failed('multipart upload', Key, err);
    } finally {
      await handle.close();
    }
    return true;
  }

  /** has(), unless has() found it absent a moment ago (see ABSENT_FRESH_MS) */
  private async storedAlready(hash: string): Promise<boolean> {
    const absent = this.absentAt.get(hash);
    this.absentAt.delete(hash);
    if (absent !== undefined && Date.now() - absent < ABSENT_FRESH_MS) return false;
    const stored = await this.has(hash);
    // once put, it is stored: this answer must not spare the next put's check
    this.absentAt.delete(hash);
    return stored;
  }

  async get(hash: string): Promise<Buffer | undefined> {
    const object = await this.getObject(hash);
    if (object === undefined) return undefined;
    const bytes = Buffer.from(await object.body.transformToByteArray());
    const actual = sha256(bytes);
    if (actual !== hash) {
      this.verifiedEtag.delete(hash);
      throw new BlobIntegrityError(hash, actual);
    }
    return bytes;
  }

  async stream(hash: string, range?: { start: number; end: number }): Promise<Readable | undefined> {
    const known = this.verifiedEtag.get(hash);
    if (known !== undefined) {
      const object = await this.getObject(hash, range);
      if (object === undefined) return undefined;
      // the same ETag: the same bytes that verified. Some servers answer a range they cannot
      // parse (s3rver: "bytes=0-0") with the whole object: then serve the range from a download
      const rangeServed = range === undefined || object.contentRange?.startsWith(`bytes ${range.start}-${range.end}/`) === true;
      if (object.etag === known && rangeServed) return object.body as Readable;
      (object.body as Readable).destroy();
      if (object.etag !== known) this.verifiedEtag.delete(hash);
    }
    return this.streamVerified(hash, range);
  }

  async *list(): AsyncIterable<StoredBlob> {
    const Prefix = this.location.prefix;
    let ContinuationToken: string | undefined;
    do {
      // a page of at most 1,000 keys at a time: memory stays flat however large the bucket
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.location.bucket, Prefix, ContinuationToken })).catch((err: unknown) => {
        throw this.failed('ListObjectsV2', Prefix, err);
      });
      for (const object of page.Contents ?? []) {
        const name = object.Key?.slice(Prefix.length) ?? '';
        // `<two hex>/<hash>` only: anything else under the prefix is not ours to collect
        const hash = name.slice(3);
        if (name.length !== 67 || name[2] !== '/' || !isBlobHash(hash) || name.slice(0, 2) !== hash.slice(0, 2)) continue;
        yield { hash, size: object.Size ?? 0, modifiedAt: object.LastModified?.getTime() ?? 0 };
      }
      ContinuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (ContinuationToken !== undefined);
  }

  async delete(hash: string): Promise<boolean> {
    const Key = this.keyOf(hash);
    this.verifiedEtag.delete(hash);
    // S3's DeleteObject succeeds for a missing key too: ask first, so the answer says what happened
    if (!(await this.has(hash))) return false;
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key }));
    } catch (err) {
      throw this.failed('DeleteObject', Key, err);
    }
    return true;
  }

  private async streamVerified(hash: string, range?: { start: number; end: number }): Promise<Readable | undefined> {
    const object = await this.getObject(hash);
    if (object === undefined) return undefined;
    const file = join(await this.tmpDirectory(), `${hash}.${process.pid}.${Math.random().toString(36).slice(2)}`);
    const digest = createHash('sha256');
    try {
      await pipeline(
        object.body as Readable,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            digest.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(file, { mode: 0o600 }),
      );
    } catch (err) {
      await rm(file, { force: true });
      throw this.failed('GetObject', this.keyOf(hash), err);
    }
    const actual = digest.digest('hex');
    const handle = await open(file, 'r').finally(() => unlink(file).catch(() => {}));
    // unlinked while open: the file goes away with the stream, whatever the reader does
    if (actual !== hash) {
      await handle.close();
      throw new BlobIntegrityError(hash, actual);
    }
    if (object.etag !== undefined) {
      if (this.verifiedEtag.size >= MAX_VERIFIED) this.verifiedEtag.clear();
      this.verifiedEtag.set(hash, object.etag);
    }
    return handle.createReadStream({ start: range?.start ?? 0, ...(range === undefined ? {} : { end: range.end }), autoClose: true });
  }

  private async getObject(hash: string, range?: { start: number; end: number }) {
    const Key = this.keyOf(hash);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key, ...(range === undefined ? {} : { Range: `bytes=${range.start}-${range.end}` }) }));
      if (out.Body === undefined) throw new Error('the response had no body');
      return { body: out.Body, etag: out.ETag, contentRange: out.ContentRange };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw this.failed('GetObject', Key, err);
    }
  }

  private tmpDirectory(): Promise<string> {
    this.tmp ??= mkdtemp(join(this.opts.tmpDir ?? tmpdir(), 'slipway-s3-'));
    return this.tmp;
  }

  /** removes the temp dir stream() downloads into and closes the client's sockets */
  async close(): Promise<void> {
    if (this.tmp !== undefined) await rm(await this.tmp, { recursive: true, force: true });
    this.client.destroy();
  }

  private failed(operation: string, key: string, err: unknown): BlobStoreError {
    const where = this.location.endpoint ?? `AWS S3 (${this.location.region})`;
    const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    return new BlobStoreError(`S3 blob store ${where}, bucket ${this.location.bucket}: ${operation} of ${key} failed (${why})`, { cause: err });
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}
