import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';

/**
 * The fast path for the edge's most common answer: a whole file from memory to a keep-alive
 * request. The status line and headers are serialised once per representation (again only
 * when the Date second changes) and written to the socket together with the body, right after
 * `res.end()` has let node:http finish the exchange as usual (keep-alive timer, next request).
 *
 * This skips ServerResponse's per-request header work (building the block from an array,
 * validating every name and value, keep-alive bookkeeping), which measured about a third of
 * the edge's CPU per request. Parsing, connection handling and every other answer stay with
 * node:http. It relies on two long-standing ServerResponse fields (`_header`, `_headerSent`,
 * which libraries such as on-headers also read); `rawResponsesSupported` checks their shape at
 * start-up, and the edge falls back to writeHead/end when they are not as expected.
 */

interface ResponseInternals {
  _header: unknown;
  _headerSent: boolean;
}

function probe(): boolean {
  try {
    const res = new ServerResponse(new IncomingMessage(new Socket())) as unknown as ResponseInternals;
    return res._header === null && res._headerSent === false && typeof ServerResponse.prototype.end === 'function';
  } catch {
    return false;
  }
}

export const rawResponsesSupported: boolean = probe();

/**
 * A response head, serialised, valid during one second (the Date header); for small bodies
 * also head + body in one buffer, so the answer is one socket write that completes at once.
 */
export interface RawResponse {
  head: Buffer;
  /** head + body, only for bodies up to WHOLE_MAX_BYTES, dropped when the second ends */
  whole: Buffer | undefined;
  second: number;
}

/** Bodies up to this size are sent as one pre-joined buffer; larger ones as head + body. */
export const WHOLE_MAX_BYTES = 64 * 1024;

const STATUS_LINES: Record<number, string> = { 200: 'HTTP/1.1 200 OK\r\n', 304: 'HTTP/1.1 304 Not Modified\r\n', 404: 'HTTP/1.1 404 Not Found\r\n' };

let dateSecond = -1;
let dateValue = '';
/** responses holding a joined buffer this second: released when the second changes, so the copies stay few */
let joined: RawResponse[] = [];

/** The serialised response for `status` + `headers` + `body` at `second` (Date.now() / 1000, floored). */
export function buildRawResponse(status: 200 | 404, headers: readonly string[], body: Buffer, second: number, keepAliveSeconds: number): RawResponse {
  const head = buildRawHead(status, headers, second, keepAliveSeconds);
  const raw: RawResponse = { head, whole: undefined, second };
  if (body.length <= WHOLE_MAX_BYTES) {
    raw.whole = Buffer.concat([head, body]);
    joined.push(raw);
  }
  return raw;
}

/**
 * The head alone, as node:http's writeHead(status, headers) + end() serialises it for a
 * keep-alive request (status line, the headers in order, Date, Connection, Keep-Alive).
 */
export function buildRawHead(status: 200 | 304 | 404, headers: readonly string[], second: number, keepAliveSeconds: number): Buffer {
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(second * 1000).toUTCString();
    for (const old of joined) old.whole = undefined;
    joined = [];
  }
  let text = STATUS_LINES[status] ?? '';
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  text += `Date: ${dateValue}\r\nConnection: keep-alive\r\n`;
  if (keepAliveSeconds > 0) text += `Keep-Alive: timeout=${keepAliveSeconds}\r\n`;
  return Buffer.from(`${text}\r\n`, 'latin1');
}

/**
 * Write the response straight to the response's socket and end it.
 * Returns false, having written nothing, when this response cannot take the fast path:
 * not the socket's current response (pipelined behind another), or not keep-alive
 * (HTTP/1.0, `Connection: close`), whose connection handling node:http must do itself.
 */
export function writeRaw(res: ServerResponse, status: number, raw: RawResponse, body: Buffer): boolean {
  const socket = res.socket;
  if (socket === null || !res.shouldKeepAlive || res.headersSent) return false;
  res.statusCode = status; // for anyone who reads it later (logs); the wire has it in the head
  const internals = res as unknown as ResponseInternals;
  internals._header = raw.head; // any non-empty value: "headers are built"
  internals._headerSent = true; // "... and already on the wire": end() adds nothing
  // end() first: called after the write, while the socket still holds those bytes (always over
  // TLS, whose writes complete later), it writes an empty chunk of its own, which TLS pays a
  // record and a syscall for. The exchange finishes on the next tick, so our bytes still go out
  // before any later response on this connection.
  res.end();
  if (raw.whole !== undefined) {
    socket.write(raw.whole);
  } else {
    socket.cork();
    socket.write(raw.head);
    socket.write(body);
    socket.uncork();
  }
  return true;
}
