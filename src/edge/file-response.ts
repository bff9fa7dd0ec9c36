import { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import type { RequestObserver } from '../access-log/index.js';
import type { BlobCache } from './blob-cache.js';
import type { BlobReader } from './blob-reader.js';
import { ACCEPT_BR, ACCEPT_GZIP, IGNORE_RANGE, UNSATISFIABLE, acceptedEncodings, etagMatches, parseRange, type ByteRange } from './negotiate.js';
import { NOT_FOUND_PAGE } from './pages.js';
import { buildRawResponse, writeRaw } from './raw-response.js';
import type { Representation, Site, SiteFile } from './site.js';

/** What a request says about the file it wants: the headers the edge reads for it. */
export interface FileRequest {
  isHead: boolean;
  acceptEncoding: string | undefined;
  ifNoneMatch: string | undefined;
  range: string | undefined;
  ifRange: string | undefined;
}

export interface FileResponderOptions {
  /** told whether each file came from memory, the blob store or a stream (metrics) */
  observer?: RequestObserver | undefined;
  cache: BlobCache;
  reader: BlobReader;
  /** use the pre-serialised HTTP/1.1 fast path (./raw-response.ts) where it applies */
  rawResponses: boolean;
  /** blobs larger than this are streamed from the blob store, never held in memory */
  streamThreshold: number;
  /** the HTTP server's keep-alive timeout, seconds, announced in the raw responses' Keep-Alive header */
  keepAliveSeconds: () => number;
  sendPage(res: ServerResponse, status: number, body: Buffer, isHead: boolean, extra?: string[]): void;
  fail(res: ServerResponse, status: 500 | 502, message: string, error: unknown, isHead: boolean): void;
  report(message: string, error?: unknown): void;
}

export interface FileResponder {
  /** Answer with the site's file at `path` (ETag, Range, encodings), or its 404. */
  serveFile(res: ServerResponse, site: Site, path: string, req: FileRequest): void;
  /** br > gzip > identity, as the request accepts them */
  negotiate(file: SiteFile, acceptEncoding: string | undefined): Representation;
  /** The representation's bytes if they are in memory now (and mark them used), else undefined. */
  bytesInMemory(rep: Representation): Buffer | undefined;
}

/**
 * The bytes of a deployment's files: from memory when cached, else loaded or streamed from the
 * blob store. Bytes in memory were verified against the hash when they were loaded (see
 * BlobReader); those that do not match are never sent: the answer is a 500 page.
 */
export function createFileResponder(opts: FileResponderOptions): FileResponder {
  const { cache, reader, sendPage, fail, report } = opts;

  function serveFile(res: ServerResponse, site: Site, path: string, req: FileRequest): void {
    const file = site.files.get(path);
    if (file === undefined) {
      serveNotFound(res, site, req);
      return;
    }
    const { range, ifRange } = req;
    // a Range is always served from the identity bytes; otherwise br > gzip > identity
    const rep = range === undefined ? negotiate(file, req.acceptEncoding) : file.identity;
    if (req.ifNoneMatch !== undefined && etagMatches(req.ifNoneMatch, rep.etag)) {
      res.writeHead(304, rep.notModifiedHeaders as string[]);
      res.end();
      return;
    }
    if (range !== undefined && (ifRange === undefined || ifRange === rep.etag)) {
      const wanted = parseRange(range, rep.size);
      if (wanted === UNSATISFIABLE) {
        res.writeHead(416, ['Content-Range', `bytes */${rep.size}`, 'Content-Length', '0', 'Cache-Control', 'no-store', 'x-slipway-deployment', site.deploymentId]);
        res.end();
        return;
      }
      if (wanted !== IGNORE_RANGE) {
        const headers = [...file.partialHeaders, 'Content-Range', `bytes ${wanted.start}-${wanted.end}/${rep.size}`, 'Content-Length', String(wanted.end - wanted.start + 1)];
        send(res, 206, headers, rep, wanted, req.isHead, site, file.key);
        return;
      }
    }
    send(res, 200, rep.fullHeaders, rep, undefined, req.isHead, site, file.key);
  }

  function serveNotFound(res: ServerResponse, site: Site, req: FileRequest): void {
    if (site.notFound === undefined) {
      sendPage(res, 404, NOT_FOUND_PAGE, req.isHead, ['x-slipway-deployment', site.deploymentId]);
      return;
    }
    const rep = negotiate(site.notFound, req.acceptEncoding);
    send(res, 404, rep.fullHeaders, rep, undefined, req.isHead, site, site.notFound.key);
  }

  function negotiate(file: SiteFile, acceptEncoding: string | undefined): Representation {
    if (file.br === undefined && file.gzip === undefined) return file.identity;
    const accepted = acceptedEncodings(acceptEncoding);
    if (file.br !== undefined && (accepted & ACCEPT_BR) !== 0) return file.br;
    if (file.gzip !== undefined && (accepted & ACCEPT_GZIP) !== 0) return file.gzip;
    return file.identity;
  }

  function bytesInMemory(rep: Representation): Buffer | undefined {
    let slot = rep.slot;
    if (slot === undefined || slot.bytes === undefined) {
      slot = cache.get(rep.hash); // another deployment or representation may share the blob
      rep.slot = slot;
    } else cache.touch(slot);
    return slot?.bytes;
  }

  /** Send a representation (or a range of it) of the site's file `key`. */
  function send(res: ServerResponse, status: number, headers: readonly string[], rep: Representation, range: ByteRange | undefined, isHead: boolean, site: Site, key: string): void {
    if (isHead) {
      res.writeHead(status, headers as string[]);
      res.end();
      return;
    }
    const bytes = bytesInMemory(rep);
    opts.observer?.cache(res, bytes !== undefined ? 'hit' : rep.size > opts.streamThreshold ? 'stream' : 'miss');
    if (bytes !== undefined) {
      // the pre-serialised head is HTTP/1.1 and holds none of the headers set on res (HSTS)
      if (range === undefined && opts.rawResponses && status === rep.status && res instanceof ServerResponse && !res.hasHeader('strict-transport-security')) {
        const second = Math.floor(Date.now() / 1000);
        let raw = rep.raw;
        if (raw === undefined || raw.second !== second) {
          raw = buildRawResponse(rep.status, headers, bytes, second, opts.keepAliveSeconds());
          rep.raw = raw;
        }
        if (writeRaw(res, status, raw, bytes)) {
          opts.observer?.wrote(res, raw.head.length + bytes.length);
          return;
        }
      }
      res.writeHead(status, headers as string[]);
      res.end(range === undefined ? bytes : bytes.subarray(range.start, range.end + 1));
      return;
    }
    if (rep.size > opts.streamThreshold) {
      streamBlob(res, status, headers, rep, range, site, key);
      return;
    }
    reader
      .load(rep, site.deploymentId, key)
      .then(
        (loaded) => {
          res.writeHead(status, headers as string[]);
          res.end(range === undefined ? loaded : loaded.subarray(range.start, range.end + 1));
        },
        (error: unknown) => fail(res, 500, `could not read ${key} (blob ${rep.hash}) of deployment ${site.deploymentId}`, error, false),
      )
      .catch((error: unknown) => fail(res, 500, `sending blob ${rep.hash} failed`, error, false));
  }

  function streamBlob(res: ServerResponse, status: number, headers: readonly string[], rep: Representation, range: ByteRange | undefined, site: Site, key: string): void {
    const wanted = range ?? { start: 0, end: rep.size - 1 };
    if (wanted.end < wanted.start) {
      res.writeHead(status, headers as string[]);
      res.end();
      return;
    }
    reader
      .open(rep, site.deploymentId, key, wanted)
      .then((stream) => {
        res.writeHead(status, headers as string[]);
        pipeline(stream, res, (error) => {
          // a client that goes away mid-download is normal; anything else is worth a line
          if (error !== undefined && error !== null && (error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') {
            report(`streaming blob ${rep.hash} failed`, error);
          }
        });
      })
      .catch((error: unknown) => fail(res, 500, `could not stream ${key} (blob ${rep.hash}) of deployment ${site.deploymentId}`, error, false));
  }

  return { serveFile, negotiate, bytesInMemory };
}
