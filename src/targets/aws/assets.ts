import { readFile } from 'node:fs/promises';
import { CopyObjectCommand, HeadObjectCommand, NotFound, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { contentType, walkOutput } from '../../artifact/index.js';
import { sha256File } from '../../blobs/index.js';
import { isFingerprinted } from '../../edge/index.js';
import type { ImmutableRule } from '../../manifest/index.js';

export const IMMUTABLE_CACHE = 'public,max-age=31536000,immutable';
export const REVALIDATE_CACHE = 'public,max-age=0,must-revalidate';

/**
 * Where assets live in the bucket:
 * - `assets/<path>`: files of the framework's fingerprinted folders (`_next/static/…`), shared by
 *   every deployment. Their names carry their content's hash, so keys never collide, an object
 *   that is there already is skipped, and a page of an older deployment still finds its scripts
 *   after the switch (CloudFront sends those folders to this prefix whatever is live).
 * - `deployments/<id>/<path>`: everything else, one root per deployment (the OriginPath CloudFront
 *   moves on go-live). A file the previous deployment had with the same bytes is copied inside
 *   S3 instead of uploaded; a retry skips what it already wrote (same x-amz-meta-sha256).
 */
export const SHARED_PREFIX = 'assets';
export const deploymentRoot = (deploymentId: string) => `deployments/${deploymentId}`;

/** Folders whose files are all fingerprinted: CloudFront routes them to the shared prefix. */
export function sharedFolders(rules: readonly ImmutableRule[]): string[] {
  return rules.filter((r) => r.names === 'all' && r.prefix !== '' && r.except === undefined).map((r) => r.prefix);
}

export interface AssetUploadResult {
  files: number;
  uploaded: number;
  uploadedBytes: number;
  copied: number;
  skipped: number;
  /** '/'-prefixed paths of the files that are not fingerprinted (what go-live invalidates) */
  mutablePaths: string[];
}

export interface AssetUpload {
  s3: S3Client;
  bucket: string;
  assetsDir: string;
  deploymentId: string;
  /** the deployment live before this one: its root is where unchanged files are copied from */
  previousDeploymentId?: string;
  immutable: readonly ImmutableRule[];
  log: (line: string) => void;
}

async function headSha(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return head.Metadata?.sha256 ?? '';
  } catch (err) {
    if (err instanceof NotFound || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
    throw err;
  }
}

async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Upload a build's static files for one deployment (see the key layout above). */
export async function uploadAssets(opts: AssetUpload): Promise<AssetUploadResult> {
  const { s3, bucket } = opts;
  const files = await walkOutput(opts.assetsDir, { skipDependencies: true, log: opts.log });
  const shared = sharedFolders(opts.immutable);
  const result: AssetUploadResult = { files: files.length, uploaded: 0, uploadedBytes: 0, copied: 0, skipped: 0, mutablePaths: [] };
  const root = deploymentRoot(opts.deploymentId);
  await eachLimited(files, 8, async (file) => {
    const fingerprinted = isFingerprinted(file.key, opts.immutable);
    const inShared = shared.some((prefix) => file.key.startsWith(prefix));
    const key = inShared ? `${SHARED_PREFIX}/${file.key}` : `${root}/${file.key}`;
    if (!fingerprinted) result.mutablePaths.push(`/${file.key}`);
    const sha = await sha256File(file.path);
    const existing = await headSha(s3, bucket, key);
    // a shared key names its content: there already means the same bytes; a root key must match
    if (existing !== undefined && (inShared || existing === sha)) {
      result.skipped += 1;
      return;
    }
    const headers = { ContentType: contentType(file.key).type, CacheControl: fingerprinted ? IMMUTABLE_CACHE : REVALIDATE_CACHE, Metadata: { sha256: sha } };
    if (!inShared && opts.previousDeploymentId !== undefined) {
      const from = `${deploymentRoot(opts.previousDeploymentId)}/${file.key}`;
      if ((await headSha(s3, bucket, from)) === sha) {
        await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: key, CopySource: `${bucket}/${encodeURI(from)}`, MetadataDirective: 'REPLACE', ...headers }));
        result.copied += 1;
        return;
      }
    }
    const body = await readFile(file.path);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...headers }));
    result.uploaded += 1;
    result.uploadedBytes += body.length;
  });
  result.mutablePaths.sort();
  return result;
}
