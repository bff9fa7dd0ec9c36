import { constants, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { fastEntry, type RequestObserver } from '../access-log/index.js';
import type { FileResponder } from './file-response.js';
import { etagMatches } from './negotiate.js';
import { fastFile } from './fast-file.js';
import { normaliseHost } from './path.js';
import type { RouteTable } from './routes.js';
import type { Representation } from './site.js';

export interface StreamFastPathOptions {
  routes: RouteTable;
  files: FileResponder;
  /** does a real certificate cover this host (lower-case, no port)? Others get the compatibility path's 421 */
  covers(host: string): boolean;
  /** told of each request answered here (access log, metrics) */
  observer?: RequestObserver | undefined;
}

/** An HTTP/2 stream answered directly: true; false (having done nothing) for the compatibility API. */
export type StreamFastPath = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number) => boolean;

interface H2Head {
  hsts: string | undefined;
  full: OutgoingHttpHeaders;
  notModified: OutgoingHttpHeaders;
}

const ignore = (): void => undefined;

/**
 * The HTTP/2 answer for the most common request: GET or HEAD of a file whose bytes are in
 * memory, of a site without rules (or a path whose remembered rule outcome cannot change), on a
 * host already routed, unprotected and covered by a certificate. It goes straight to the
 * Http2Stream with a header object built once per representation, which spares the
 * compatibility API's request and response objects (most of the CPU of a small answer).
 * Anything else (ranges, a request body, rules that still depend on the request, SSR, redirects,
 * a host not yet looked up, deployment protection, bytes not in memory, ACME challenges) returns
 * false and takes the usual path, so the answers are the same, byte for byte, except for the
 * order of headers.
 */
export function createStreamFastPath(opts: StreamFastPathOptions): StreamFastPath {
  const { routes, files } = opts;
  const heads = new WeakMap<Representation, H2Head>();

  function headFor(rep: Representation, hsts: string | undefined): H2Head {
    let head = heads.get(rep);
    if (head === undefined || head.hsts !== hsts) {
      head = { hsts, full: toObject(rep.status, rep.fullHeaders, hsts), notModified: toObject(304, rep.notModifiedHeaders, hsts) };
      heads.set(rep, head);
    }
    return head;
  }

  return (stream, headers, flags) => {
    // when the request arrived, for the access log's duration (the time until the answer is handed to the stream)
    const started = opts.observer === undefined ? 0 : performance.now();
    const method = headers[':method'];
    const isHead = method === 'HEAD';
    // a request with a body (or more headers to come) is the compatibility API's to read
    if ((method !== 'GET' && !isHead) || (flags & constants.NGHTTP2_FLAG_END_STREAM) === 0) return false;
    if (headers.range !== undefined) return false;
    const target = headers[':path'];
    if (target === undefined) return false;
    // as the compatibility path: a Host header, if sent, names the host before :authority
    const host = headers.host ?? headers[':authority'];
    if (host === undefined) return false;
    const found = fastFile(routes, host, target);
    if (found === undefined) return false;
    const { site, file } = found;
    const name = normaliseHost(host);
    if (name === undefined || !opts.covers(name)) return false;
    const rep = files.negotiate(file, headers['accept-encoding'] as string | undefined);
    const head = headFor(rep, found.settings?.hsts);
    const ifNoneMatch = headers['if-none-match'];
    const observer = opts.observer;
    if (ifNoneMatch !== undefined && etagMatches(ifNoneMatch, rep.etag)) {
      stream.on('error', ignore); // a reset stream: nothing to answer, nothing to report
      stream.respond(head.notModified, { endStream: true });
      if (observer?.fastAnswered(site.deploymentId, 304, 0, 'revalidated') === true) {
        observer.answered(fastEntry(started, method ?? '', host, target, 304, 0, site.deploymentId, stream.session?.socket?.remoteAddress ?? '', 'revalidated'));
      }
      return true;
    }
    const bytes = isHead ? undefined : files.bytesInMemory(rep);
    if (!isHead && bytes === undefined) return false;
    stream.on('error', ignore);
    if (bytes === undefined) {
      stream.respond(head.full, { endStream: true });
    } else {
      stream.respond(head.full, { endStream: false });
      stream.end(bytes);
    }
    const cache = isHead ? 'none' : 'hit';
    const size = bytes?.length ?? 0;
    // counted from these values; an entry only for a request the access log keeps
    if (observer?.fastAnswered(site.deploymentId, rep.status, size, cache) === true) {
      observer.answered(fastEntry(started, method ?? '', host, target, rep.status, size, site.deploymentId, stream.session?.socket?.remoteAddress ?? '', cache));
    }
    return true;
  };
}

/** `:status` and the headers (name, value, ...) as an HTTP/2 header object (lower-case names) */
function toObject(status: number, list: readonly string[], hsts: string | undefined): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':status': status };
  for (let i = 0; i < list.length; i += 2) out[list[i]!.toLowerCase()] = list[i + 1]!;
  if (hsts !== undefined) out['strict-transport-security'] = hsts;
  return out;
}
