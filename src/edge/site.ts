import { isBlobHash, type ImmutableRule, type Manifest, type ManifestEntry, type ServerBundle, type Variant } from '../manifest/index.js';
import { compileRules, type CompiledRules } from '../rules/index.js';
import type { CachedBlob } from './blob-cache.js';
import { cacheControlFor } from './cache-control.js';
import type { RawResponse } from './raw-response.js';
import type { FunctionOrigin } from './types.js';

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
  /** the manifest entry it was compiled from (site rules compile it again with their headers) */
  readonly entry: ManifestEntry;
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
  /** the site's own redirects, rewrites and headers, compiled (see ./site-rules.ts); undefined costs nothing */
  readonly rules: CompiledRules | undefined;
  readonly immutable: readonly ImmutableRule[];
  /** set for an AWS Next.js preview: what its files do not answer goes to this function (see ./function-origin.ts) */
  readonly origin?: FunctionOrigin | undefined;
}

/** Something answers behind the site's files: its SSR server, or its function on AWS (`origin`). */
export function hasBackend(site: Site): boolean {
  return site.server !== undefined || site.origin !== undefined;
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
  const rules = manifest.rules === undefined || manifest.rules.routes.length === 0 ? undefined : compileRules(manifest.rules);
  return { deploymentId, manifestHash, files, notFound, server: manifest.server, rules, immutable };
}

/** views of a site with a rule's extra headers, per header list; bounded, as header values may come from requests */
const views = new WeakMap<Site, Map<string, Site>>();
const MAX_VIEWS = 64;

/**
 * The site as it answers with `extra` response headers (name, value, ...) set by its rules: each
 * file compiled again on first use with those headers (replacing its own of the same name), so
 * the edge's prebuilt-header fast path still applies. `extra` empty: the site itself.
 */
export function withHeaders(site: Site, extra: readonly string[]): Site {
  if (extra.length === 0) return site;
  return view(site, `h\n${extra.join('\n')}`, () => {
    const derive = (file: SiteFile, asNotFound: boolean) => compileFile(file.key, file.entry, site.deploymentId, asNotFound, site.immutable, extra);
    return { ...site, files: new DerivedFiles(site.files, (file) => derive(file, false)), notFound: site.notFound === undefined ? undefined : derive(site.notFound, true) };
  });
}

/** The site answering every path with `file` as its 404 body (Netlify's `/x /y.html 404` rules). */
export function notFoundWith(site: Site, file: SiteFile, extra: readonly string[]): Site {
  return view(site, `n\n${file.key}\n${extra.join('\n')}`, () => ({ ...site, files: new Map(), notFound: compileFile(file.key, file.entry, site.deploymentId, true, site.immutable, extra) }));
}

function view(site: Site, key: string, make: () => Site): Site {
  let byKey = views.get(site);
  if (byKey === undefined) {
    byKey = new Map();
    views.set(site, byKey);
  }
  let found = byKey.get(key);
  if (found === undefined) {
    if (byKey.size >= MAX_VIEWS) byKey.clear();
    found = make();
    byKey.set(key, found);
  }
  return found;
}

/** A site's path -> file table whose files are compiled again (once each) on first lookup. */
class DerivedFiles extends Map<string, SiteFile> {
  private readonly derived = new Map<SiteFile, SiteFile>();
  constructor(
    private readonly base: ReadonlyMap<string, SiteFile>,
    private readonly derive: (file: SiteFile) => SiteFile,
  ) {
    super();
  }
  override get(path: string): SiteFile | undefined {
    const own = this.base.get(path);
    if (own === undefined) return undefined;
    let file = this.derived.get(own);
    if (file === undefined) {
      file = this.derive(own);
      this.derived.set(own, file);
    }
    return file;
  }
  override has(path: string): boolean {
    return this.base.has(path);
  }
}

function isUsableVariant(variant: Variant): boolean {
  return isBlobHash(variant.hash) && Number.isSafeInteger(variant.size) && variant.size >= 0;
}

function isUsable(entry: ManifestEntry): boolean {
  return isUsableVariant(entry) && (entry.gzip === undefined || isUsableVariant(entry.gzip)) && (entry.br === undefined || isUsableVariant(entry.br));
}

function compileFile(key: string, entry: ManifestEntry, deploymentId: string, asNotFound: boolean, immutable: readonly ImmutableRule[], extra: readonly string[] = []): SiteFile {
  const type = HEADER_VALUE.test(entry.type) && entry.type !== '' ? entry.type : 'application/octet-stream';
  const cacheControl = asNotFound ? 'no-store' : cacheControlFor(key, immutable);
  const varies = entry.gzip !== undefined || entry.br !== undefined;
  const vary = varies ? ['Vary', 'Accept-Encoding'] : [];
  const deployment = ['x-slipway-deployment', deploymentId];

  const representation = (variant: Variant, encoding: string | undefined): Representation => {
    const etag = `"${variant.hash}"`;
    const encodingHeader = encoding === undefined ? [] : ['Content-Encoding', encoding];
    let fullHeaders = asNotFound
      ? ['Content-Type', type, 'Content-Length', String(variant.size), 'Cache-Control', cacheControl, ...vary, ...encodingHeader, ...deployment]
      : ['Content-Type', type, 'Content-Length', String(variant.size), 'ETag', etag, 'Cache-Control', cacheControl, 'Accept-Ranges', 'bytes', ...vary, ...encodingHeader, ...deployment];
    fullHeaders = withExtra(fullHeaders, extra);
    const notModifiedHeaders = withExtra(['ETag', etag, 'Cache-Control', cacheControl, ...vary, ...deployment], extra);
    return { hash: variant.hash, size: variant.size, etag, fullHeaders, notModifiedHeaders, status: asNotFound ? 404 : 200, slot: undefined, raw: undefined };
  };

  const identity = representation(entry, undefined);
  return {
    key,
    identity,
    gzip: entry.gzip === undefined ? undefined : representation(entry.gzip, 'gzip'),
    br: entry.br === undefined ? undefined : representation(entry.br, 'br'),
    partialHeaders: withExtra(['Content-Type', type, 'ETag', identity.etag, 'Cache-Control', cacheControl, 'Accept-Ranges', 'bytes', ...vary, ...deployment], extra),
    entry,
  };
}

/** `headers` with a rule's `extra` headers appended, replacing any of the same name (a rule's Cache-Control wins). */
function withExtra(headers: string[], extra: readonly string[]): string[] {
  if (extra.length === 0) return headers;
  const names = new Set<string>();
  for (let i = 0; i < extra.length; i += 2) names.add(extra[i]!.toLowerCase());
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (!names.has(headers[i]!.toLowerCase())) out.push(headers[i]!, headers[i + 1]!);
  out.push(...extra);
  return out;
}
