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
  /** name, value, ... as IncomingMessage.rawHeaders (values without surrounding whitespace) */
  rawHeaders: string[];
  /** the offset just after the head's empty line: where the next request starts */
  end: number;
}

/** the head is not all there yet: node:http takes the connection (its headersTimeout applies) */
export const INCOMPLETE = 0;
/** the head is complete but not in the strict grammar, or asks for something else: node:http's */
export const NOT_MINE = 1;

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;
const CRLF_CRLF = Buffer.from('\r\n\r\n', 'latin1');
const GET_SP = 0x20544547; // "GET " read as a little-endian uint32
const HEAD = 0x44414548; // "HEAD"
const VERSION_CRLF = Buffer.from(' HTTP/1.1\r\n', 'latin1');

/** RFC 9110 tchar: ! # $ % & ' * + - . ^ _ ` | ~ DIGIT ALPHA */
const TOKEN = new Uint8Array(256);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9!#$%&'*+\-.^_`|~]/.test(ch)) TOKEN[c] = 1;
}

/**
 * Read the request head that starts at `start` in `buf`. A request (with the offset of the
 * next one) when it is a plain GET or HEAD this reader is sure about; else INCOMPLETE or
 * NOT_MINE, having decided nothing about the bytes.
 */
export function readHead(buf: Buffer, start: number): FastRequest | typeof INCOMPLETE | typeof NOT_MINE {
  const blank = buf.indexOf(CRLF_CRLF, start);
  if (blank === -1) return buf.length - start >= MAX_HEAD_BYTES ? NOT_MINE : INCOMPLETE;
  const end = blank + 4;
  if (end - start > MAX_HEAD_BYTES) return NOT_MINE;

  // request-line: exactly "GET|HEAD SP /target SP HTTP/1.1 CRLF"
  if (end - start < 16) return NOT_MINE;
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
  if (buf[i] !== 0x2f /* / */) return NOT_MINE;
  while (i < blank && buf[i]! >= 0x21 && buf[i]! <= 0x7e) i++;
  const targetEnd = i;
  if (!buf.subarray(i, i + VERSION_CRLF.length).equals(VERSION_CRLF)) return NOT_MINE;
  i += VERSION_CRLF.length;
  const target = buf.toString('latin1', targetStart, targetEnd);

  // header lines: token ":" OWS value OWS CRLF, value in VCHAR / SP / HTAB, up to the blank line
  const rawHeaders: string[] = [];
  let hosts = 0;
  while (i < end - 2) {
    const nameStart = i;
    while (TOKEN[buf[i]!] === 1) i++;
    // an empty name is also how obs-fold (a line starting with SP or HTAB) shows here
    if (i === nameStart || buf[i] !== COLON) return NOT_MINE;
    const name = buf.toString('latin1', nameStart, i);
    i++;
    while (buf[i] === SP || buf[i] === HTAB) i++;
    const valueStart = i;
    let valueEnd = i;
    for (;;) {
      const c = buf[i]!;
      if (c === CR) break;
      if (c > 0x7e || (c < SP && c !== HTAB)) return NOT_MINE; // LF, NUL, other CTLs, DEL, obs-text
      i++;
      if (c !== SP && c !== HTAB) valueEnd = i;
    }
    if (buf[i + 1] !== LF) return NOT_MINE; // a bare CR
    i += 2;
    const value = buf.toString('latin1', valueStart, valueEnd);
    if (!acceptable(name, value)) return NOT_MINE;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
    rawHeaders.push(name, value);
  }
  if (i !== end - 2 || hosts !== 1) return NOT_MINE;
  return { isHead, target, rawHeaders, end };
}

/** Headers that give the request a body, change the protocol or end the connection are node:http's. */
function acceptable(name: string, value: string): boolean {
  switch (name.length) {
    case 6:
      return name.toLowerCase() !== 'expect';
    case 7:
      return name.toLowerCase() !== 'upgrade';
    case 10:
      return name.toLowerCase() !== 'connection' || value.toLowerCase() === 'keep-alive';
    case 14:
      return name.toLowerCase() !== 'content-length';
    case 17:
      return name.toLowerCase() !== 'transfer-encoding';
    default:
      return true;
  }
}
