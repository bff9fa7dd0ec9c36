/** Parsing the request headers that pick a representation: Accept-Encoding, If-None-Match, Range. */

export const ACCEPT_GZIP = 1;
export const ACCEPT_BR = 2;

const acceptCache = new Map<string, number>();
const ACCEPT_CACHE_MAX = 256;

/**
 * Which precompressed encodings an Accept-Encoding header allows, as a bit set of
 * ACCEPT_GZIP | ACCEPT_BR. An encoding counts when listed with q > 0, or covered by "*" with
 * q > 0 and not listed with q=0. Clients send few distinct values, so answers are memoised.
 */
export function acceptedEncodings(header: string | undefined): number {
  if (header === undefined || header === '') return 0;
  const known = acceptCache.get(header);
  if (known !== undefined) return known;
  const result = parseAcceptEncoding(header);
  if (acceptCache.size >= ACCEPT_CACHE_MAX) acceptCache.clear();
  acceptCache.set(header, result);
  return result;
}

function parseAcceptEncoding(header: string): number {
  let gzip: boolean | undefined;
  let br: boolean | undefined;
  let star: boolean | undefined;
  for (const part of header.split(',')) {
    const [rawName, ...params] = part.split(';');
    const name = (rawName ?? '').trim().toLowerCase();
    let q = 1;
    for (const param of params) {
      const [key, value] = param.split('=');
      if (key?.trim().toLowerCase() === 'q') {
        const parsed = Number(value?.trim());
        q = Number.isFinite(parsed) ? parsed : 0;
      }
    }
    const ok = q > 0;
    if (name === 'gzip' || name === 'x-gzip') gzip = ok;
    else if (name === 'br') br = ok;
    else if (name === '*') star = ok;
  }
  return ((gzip ?? star ?? false) ? ACCEPT_GZIP : 0) | ((br ?? star ?? false) ? ACCEPT_BR : 0);
}

/**
 * True when an If-None-Match header matches `etag` (a quoted strong tag). Weak comparison,
 * as RFC 9110 asks for If-None-Match: `W/"x"` matches `"x"`; `*` matches anything.
 */
export function etagMatches(header: string, etag: string): boolean {
  if (header === etag || header === '*') return true;
  for (const part of header.split(',')) {
    let tag = part.trim();
    if (tag.startsWith('W/')) tag = tag.slice(2);
    if (tag === etag || tag === '*') return true;
  }
  return false;
}

/** A satisfiable byte range, inclusive end. */
export interface ByteRange {
  start: number;
  end: number;
}

/** The Range header is not one we honour (multiple ranges, other units, malformed): serve 200. */
export const IGNORE_RANGE = 'ignore';
/** A well-formed range that lies outside the file: 416. */
export const UNSATISFIABLE = 'unsatisfiable';

/**
 * Parse a single-range `Range: bytes=a-b | a- | -n` against a file of `size` bytes.
 * The end is clamped to the file; a suffix longer than the file means the whole file.
 */
export function parseRange(header: string, size: number): ByteRange | typeof IGNORE_RANGE | typeof UNSATISFIABLE {
  const match = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (match === null) return IGNORE_RANGE;
  const first = match[1] ?? '';
  const last = match[2] ?? '';
  if (first === '' && last === '') return IGNORE_RANGE;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return UNSATISFIABLE;
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return IGNORE_RANGE; // invalid per RFC 9110: ignore
  if (start >= size) return UNSATISFIABLE;
  return { start, end };
}
