/**
 * A strict reader of one HTTP/1.1 request head, for the edge's fast path (./http1-fast.ts).
 *
 * It accepts only the plainest form of a GET or HEAD request and says "not mine" to anything
 * else, so node:http (llhttp) parses it instead. The strictness is the security: a request the
 * fast path answers has no body (no Content-Length, no Transfer-Encoding), so it ends exactly
 * at the empty line for llhttp as well, and every byte before that line was checked to be in
 * the narrow grammar below, where the two parsers cannot disagree about where a line ends.
 */

/** node:http's default --max-http-header-size: a longer head is node's to refuse (431) */
export const MAX_HEAD_BYTES = 16 * 1024;

export interface FastRequest {
  isHead: boolean;
  /** the request-target, origin-form, as req.url would have it */
  target: string;
  /** the one Host header's value */
  host: string;
  /** the last of each, as ./request-headers.ts reads them for node:http's path */
  acceptEncoding: string | undefined;
  ifNoneMatch: string | undefined;
  /** the offset just after the head's empty line: where the next request starts */
  end: number;
}

/** not a request this reader is sure about, or not all there yet: node:http's to read */
export const NOT_MINE = 0;

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;
const SLASH = 47;
const GET_SP = 0x20544547; // "GET " read as a little-endian uint32
const HEAD = 0x44414548; // "HEAD"
const VERSION_CRLF = ascii(' HTTP/1.1\r\n');

/** RFC 9110 tchar: ! # $ % & ' * + - . ^ _ ` | ~ DIGIT ALPHA */
const TOKEN = new Uint8Array(256);
for (let c = 0; c < 128; c++) {
  if (/[A-Za-z0-9!#$%&'*+\-.^_`|~]/.test(String.fromCharCode(c))) TOKEN[c] = 1;
}

// the header names read here, lower-case; the answer (what to do with the header) by name
const IGNORE = 0;
const REFUSE = 1;
const HOST = 2;
const ACCEPT_ENCODING = 3;
const IF_NONE_MATCH = 4;
const CONNECTION = 5;
const NAMES: Array<[Uint8Array, number]> = [
  [ascii('host'), HOST],
  [ascii('accept-encoding'), ACCEPT_ENCODING],
  [ascii('if-none-match'), IF_NONE_MATCH],
  [ascii('connection'), CONNECTION],
  // a body, another protocol, an interim answer or a part of the file: node:http's path
  [ascii('content-length'), REFUSE],
  [ascii('transfer-encoding'), REFUSE],
  [ascii('upgrade'), REFUSE],
  [ascii('expect'), REFUSE],
  [ascii('range'), REFUSE],
];
const BY_LENGTH: Array<Array<[Uint8Array, number]>> = [];
for (const entry of NAMES) (BY_LENGTH[entry[0].length] ??= []).push(entry);
const KEEP_ALIVE = ascii('keep-alive');

/**
 * Read the request head that starts at `start` in `buf`: the request, with the offset of the
 * next one, when it is a plain GET or HEAD this reader is sure about and all of it is in `buf`;
 * else NOT_MINE, having decided nothing about the bytes.
 *
 * Request line exactly "GET|HEAD SP /target SP HTTP/1.1 CRLF" (target in 0x21-0x7E); header
 * lines exactly token ":" OWS value OWS CRLF with the value in VCHAR / SP / HTAB (no other
 * control byte, no byte >= 0x80, no bare CR or LF, no obs-fold); exactly one Host; none of the
 * headers above marked REFUSE; Connection only "keep-alive"; at most MAX_HEAD_BYTES in all.
 */
export function readHead(buf: Buffer, start: number): FastRequest | typeof NOT_MINE {
  const length = buf.length;
  if (length - start < 16) return NOT_MINE;
  const first = buf.readUInt32LE(start);
  let i: number;
  let isHead: boolean;
  if (first === GET_SP) {
    isHead = false;
    i = start + 4;
  } else if (first === HEAD && buf[start + 4] === SP) {
    isHead = true;
    i = start + 5;
  } else return NOT_MINE;
  const targetStart = i;
  if (buf[i] !== SLASH) return NOT_MINE;
  while (i < length && buf[i]! >= 0x21 && buf[i]! <= 0x7e) i++;
  const targetEnd = i;
  if (!bytesAt(buf, i, VERSION_CRLF)) return NOT_MINE;
  i += VERSION_CRLF.length;

  let hosts = 0;
  let host = '';
  let acceptEncoding: string | undefined;
  let ifNoneMatch: string | undefined;
  for (;;) {
    if (i - start > MAX_HEAD_BYTES - 2 || i + 1 >= length) return NOT_MINE;
    if (buf[i] === CR) {
      if (buf[i + 1] !== LF) return NOT_MINE;
      i += 2;
      break; // the empty line: the end of the head
    }
    const nameStart = i;
    while (i < length && TOKEN[buf[i]!] === 1) i++;
    const nameEnd = i;
    // an empty name is also how obs-fold (a line starting with SP or HTAB) shows here
    if (nameEnd === nameStart || i >= length || buf[i] !== COLON) return NOT_MINE;
    i++;
    while (i < length && (buf[i] === SP || buf[i] === HTAB)) i++;
    const valueStart = i;
    let valueEnd = i;
    for (;;) {
      if (i >= length) return NOT_MINE;
      const c = buf[i]!;
      if (c === CR) break;
      if (c > 0x7e || (c < SP && c !== HTAB)) return NOT_MINE; // LF, NUL, other controls, DEL, obs-text
      i++;
      if (c !== SP && c !== HTAB) valueEnd = i;
    }
    if (i + 1 >= length || buf[i + 1] !== LF) return NOT_MINE; // a bare CR, or not all here
    i += 2;
    switch (nameOf(buf, nameStart, nameEnd)) {
      case IGNORE:
        break;
      case HOST:
        hosts++;
        host = buf.toString('latin1', valueStart, valueEnd);
        break;
      case ACCEPT_ENCODING:
        acceptEncoding = buf.toString('latin1', valueStart, valueEnd);
        break;
      case IF_NONE_MATCH:
        ifNoneMatch = buf.toString('latin1', valueStart, valueEnd);
        break;
      case CONNECTION:
        if (!lowerCaseIs(buf, valueStart, valueEnd, KEEP_ALIVE)) return NOT_MINE;
        break;
      default:
        return NOT_MINE;
    }
  }
  if (hosts !== 1) return NOT_MINE;
  return { isHead, target: buf.toString('latin1', targetStart, targetEnd), host, acceptEncoding, ifNoneMatch, end: i };
}

/** What this reader does with the header named by buf[from, to) (a token): see NAMES. */
function nameOf(buf: Buffer, from: number, to: number): number {
  const candidates = BY_LENGTH[to - from];
  if (candidates === undefined) return IGNORE;
  for (const [name, action] of candidates) if (lowerCaseIs(buf, from, to, name)) return action;
  return IGNORE;
}

/**
 * buf[from, to) is `lower` (lower-case ASCII letters and "-") in any case. OR-ing 0x20 maps only
 * A-Z onto a-z among the bytes that can be here (CR, which would map onto "-", ends a value first).
 */
function lowerCaseIs(buf: Buffer, from: number, to: number, lower: Uint8Array): boolean {
  if (to - from !== lower.length) return false;
  for (let k = 0; k < lower.length; k++) if ((buf[from + k]! | 0x20) !== lower[k]) return false;
  return true;
}

function bytesAt(buf: Buffer, at: number, expected: Uint8Array): boolean {
  if (at + expected.length > buf.length) return false;
  for (let k = 0; k < expected.length; k++) if (buf[at + k] !== expected[k]) return false;
  return true;
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}
