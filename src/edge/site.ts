import { isBlobHash, type ImmutableRule, type Manifest, type ManifestEntry, type ServerBundle, type Variant } from '../manifest/index.js';
import type { CachedBlob } from './blob-cache.js';
import { cacheControlFor } from './cache-control.js';
import type { RawResponse } from './raw-response.js';

/**
 * One way to send a file (identity, gzip or br), with every response header it needs built
 * once, so the hot path is a Map lookup and `res.writeHead(status, array)`.
 */
export interface Representation {
  /** blob hash of the bytes sent */
  readonly hash: string;
  readonly size: number;
  readonly etag: string;
  /** headers of a 200 (or of the 404 for a site's own 404.html) */
  readonly fullHeaders: readonly string[];
  readonly notModifiedHeaders: readonly string[];
  /** 200, or 404 for the representations of a site's own 404.html */
  readonly status: 200 | 404;
  /** set once the bytes are in the memory cache; check `.bytes`, the cache may evict it */
  slot: CachedBlob | undefined;
  /** the serialised response for the raw fast path (./raw-response.ts), rebuilt each second */
  raw: RawResponse | undefined;
}

export interface SiteFile {
  /** manifest key, e.g. "docs/index.html" */
  readonly key: string;
  readonly identity: Representation;
  readonly gzip: Representation | undefined;
  readonly br: Representation | undefined;
  /** headers of a 206 of the identity bytes, without Content-Range and Content-Length */
  readonly partialHeaders: readonly string[];
}

/** A deployment ready to serve: request paths (decoded, leading "/") to files. */
export interface Site {
  readonly deploymentId: string;
  readonly manifestHash: string;
  readonly files: ReadonlyMap<string, SiteFile>;
  /** the deployment's own 404.html, with 404 headers (no-store, no ETag), if it has one */
  readonly notFound: SiteFile | undefined;
  /** the server of an SSR deployment: requests its files do not answer go there */
  readonly server: ServerBundle | undefined;
}

const HEADER_VALUE = /^[\t\x20-\x7e]*$/;

/**
 * Index a manifest by the request paths that reach each file. Precedence for one path:
 * the exact file, then "<path>.html" (clean URLs), then "<path>/index.html"; "/dir/" is
 * only ever "dir/index.html".
 */
export function compileSite(deploymentId: string, manifestHash: string, manifest: Manifest): Site {
  if (!HEADER_VALUE.test(deploymentId)) throw new Error(`deployment id is not a valid header value: ${JSON.stringify(deploymentId)}`);
  const files = new Map<string, SiteFile>();
  const immutable = manifest.immutable ?? [];
  const compiled = new Map<string, SiteFile>();
  const fileFor = (key: string, entry: ManifestEntry): SiteFile => {
    let file = compiled.get(key);
    if (file === undefined) {
      file = compileFile(key, entry, deploymentId, false, immutable);
      compiled.set(key, file);
    }
    return file;
  };
  // an entry whose size or variant is unusable is left out rather than served with wrong headers
  const entries = Object.entries(manifest.files).filter(([, entry]) => isUsable(entry));
  for (const [key, entry] of entries) {
    if (key === 'index.html') files.set('/', fileFor(key, entry));
    else if (key.endsWith('/index.html')) {
      const dir = key.slice(0, -'index.html'.length);
      files.set(`/${dir}`, fileFor(key, entry));
      files.set(`/${dir.slice(0, -1)}`, fileFor(key, entry));
    }
  }
  for (const [key, entry] of entries) {
    if (key.endsWith('.html') && key !== 'index.html' && !key.endsWith('/index.html')) files.set(`/${key.slice(0, -5)}`, fileFor(key, entry));
  }
  for (const [key, entry] of entries) files.set(`/${key}`, fileFor(key, entry));

  const notFoundEntry = manifest.files['404.html'];
  const notFound = notFoundEntry === undefined || !isUsable(notFoundEntry) ? undefined : compileFile('404.html', notFoundEntry, deploymentId, true, immutable);
  return { deploymentId, manifestHash, files, notFound, server: manifest.server };
}

function isUsableVariant(variant: Variant): boolean {
  return isBlobHash(variant.hash) && Number.isSafeInteger(variant.size) && variant.size >= 0;
}

function isUsable(entry: ManifestEntry): boolean {
  return isUsableVariant(entry) && (entry.gzip === undefined || isUsableVariant(entry.gzip)) && (entry.br === undefined || isUsableVariant(entry.br));
}

function compileFile(key: string, entry: ManifestEntry, deploymentId: string, asNotFound: boolean, immutable: readonly ImmutableRule[]): SiteFile {
  const type = HEADER_VALUE.test(entry.type) && entry.type !== '' ? entry.type : 'application/octet-stream';
  const cacheControl = asNotFound ? 'no-store' : cacheControlFor(key, immutable);
  const varies = entry.gzip !== undefined || entry.br !== undefined;
  const vary = varies ? ['Vary', 'Accept-Encoding'] : [];
  const deployment = ['x-slipway-deployment', deploymentId];

  const representation = (variant: Variant, encoding: string | undefined): Representation => {
    const etag = `"${variant.hash}"`;
    const encodingHeader = encoding === undefined ? [] : ['Content-Encoding', encoding];
    const fullHeaders = asNotFound
      ? ['Content-Type', type, 'Content-Length', String(variant.size), 'Cache-Control', cacheControl, ...vary, ...encodingHeader, ...deployment]
      : ['Content-Type', type, 'Content-Length', String(variant.size), 'ETag', etag, 'Cache-Control', cacheControl, 'Accept-Ranges', 'bytes', ...vary, ...encodingHeader, ...deployment];
    const notModifiedHeaders = ['ETag', etag, 'Cache-Control', cacheControl, ...vary, ...deployment];
    return { hash: variant.hash, size: variant.size, etag, fullHeaders, notModifiedHeaders, status: asNotFound ? 404 : 200, slot: undefined, raw: undefined };
  };

  const identity = representation(entry, undefined);
  return {
    key,
    identity,
    gzip: entry.gzip === undefined ? undefined : representation(entry.gzip, 'gzip'),
    br: entry.br === undefined ? undefined : representation(entry.br, 'br'),
    partialHeaders: ['Content-Type', type, 'ETag', identity.etag, 'Cache-Control', cacheControl, 'Accept-Ranges', 'bytes', ...vary, ...deployment],
  };
}
