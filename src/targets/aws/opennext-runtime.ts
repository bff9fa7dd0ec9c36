import { readFile } from 'node:fs/promises';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { walkOutput } from '../../artifact/index.js';
import { deploymentRoot } from './assets.js';

/**
 * Where OpenNext's incremental cache (the prerendered pages and fetch cache of `.open-next/cache`)
 * lives for one deployment: below its own asset root, so a rollback's version reads its own
 * pages. OpenNext joins this prefix and its keys without a separator: it ends with '/'.
 */
export const cachePrefix = (deploymentId: string) => `${deploymentRoot(deploymentId)}/_cache/`;

/**
 * The environment variables OpenNext's default functions read at run time (see the doc comment of
 * src/build/opennext/index.ts): the server its incremental cache, the image optimizer the bucket
 * and prefix it reads source images from (the deployment's root, where the public/ files are).
 * No tag cache or revalidation queue is made by Slipway, so those stay unset (pages render without).
 */
export function openNextEnvironment(name: 'server' | 'image', bucket: string, region: string, deploymentId: string): Record<string, string> {
  if (name === 'image') return { BUCKET_NAME: bucket, BUCKET_KEY_PREFIX: deploymentRoot(deploymentId) };
  return { CACHE_BUCKET_NAME: bucket, CACHE_BUCKET_KEY_PREFIX: cachePrefix(deploymentId), CACHE_BUCKET_REGION: region };
}

/**
 * Upload the build's cache folder under the deployment's cache prefix. It is the build's output
 * (project code wrote it): walked as the assets are, links leaving it never followed. Small (a
 * few files per prerendered page) and private to the functions, so no Cache-Control.
 */
export async function uploadOpenNextCache(s3: S3Client, bucket: string, cacheDir: string, deploymentId: string, log: (line: string) => void): Promise<{ files: number; bytes: number }> {
  const files = await walkOutput(cacheDir, { skipDependencies: false, log });
  let bytes = 0;
  for (const file of files) {
    const body = await readFile(file.path);
    bytes += body.length;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${cachePrefix(deploymentId)}${file.key}`, Body: body }));
  }
  return { files: files.length, bytes };
}
