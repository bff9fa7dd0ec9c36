import type { FileRequest } from './file-response.js';

/** The few request headers the edge reads, with the Host the request names. */
export interface RequestHeaders extends FileRequest {
  /** the Host header, else HTTP/2's :authority; undefined when neither is there */
  host: string | undefined;
}

/**
 * Read the headers the edge needs straight from `rawHeaders` (name, value, ...): building
 * `req.headers` costs more than the whole lookup. Names are matched by length first, then
 * exactly as clients usually spell them, then case-insensitively.
 */
export function readRequestHeaders(raw: readonly string[], isHead: boolean): RequestHeaders {
  let host: string | undefined;
  let acceptEncoding: string | undefined;
  let ifNoneMatch: string | undefined;
  let range: string | undefined;
  let ifRange: string | undefined;
  let authority: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    switch (name.length) {
      case 4:
        if (host === undefined && (name === 'Host' || name.toLowerCase() === 'host')) host = raw[i + 1];
        break;
      case 5:
        if (name === 'Range' || name.toLowerCase() === 'range') range = raw[i + 1];
        break;
      case 8:
        if (name === 'If-Range' || name.toLowerCase() === 'if-range') ifRange = raw[i + 1];
        break;
      case 10:
        // HTTP/2 names the host in the :authority pseudo-header (a Host header, if sent, comes first)
        if (authority === undefined && name === ':authority') authority = raw[i + 1];
        break;
      case 13:
        if (name === 'If-None-Match' || name.toLowerCase() === 'if-none-match') ifNoneMatch = raw[i + 1];
        break;
      case 15:
        if (name === 'Accept-Encoding' || name.toLowerCase() === 'accept-encoding') acceptEncoding = raw[i + 1];
        break;
    }
  }
  return { host: host ?? authority, isHead, acceptEncoding, ifNoneMatch, range, ifRange };
}
