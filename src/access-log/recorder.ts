import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { AccessEntry } from './store.js';

/** How the bytes of a response were found (the `cache` label of slipway_edge_requests_total). */
export type CacheOutcome = 'hit' | 'miss' | 'stream' | 'revalidated' | 'server' | 'none';

/** The cache outcomes a fast path can give (it answers only from memory). */
export type FastCache = 'hit' | 'revalidated' | 'none';

/** One answered request on its way to the log: an AccessEntry whose deployment may be unknown. */
export interface ObservedRequest extends Omit<AccessEntry, 'deploymentId'> {
  /** '' when the request reached no deployment (unknown host, bad request, ACME) */
  deploymentId: string;
  cache: CacheOutcome;
}

/**
 * What the edge calls per request (see EdgeOptions.observer). Kept to a few field writes: one
 * object per request, filled in once the answer is out and handed to the sink, which only
 * buffers it; the writer (./writer.ts) takes the buffer in batches.
 */
export interface RequestObserver {
  /** a request arrived (before any answer is written) */
  start(req: IncomingMessage, res: ServerResponse): void;
  /** the request is for this deployment */
  site(res: ServerResponse, deploymentId: string): void;
  /** where the answer's bytes came from */
  cache(res: ServerResponse, outcome: CacheOutcome): void;
  /**
   * the edge wrote the whole answer to the socket itself (the raw fast path) and ended the
   * response: recorded now, with no 'close' listener
   */
  wrote(res: ServerResponse, bytes: number): void;
  /**
   * the request handler returned: an answer not recorded yet (written later, streamed, cut off)
   * is recorded when its response closes. 'close' always comes on a later tick, so no answer
   * can be missed between start and this call.
   */
  handled(res: ServerResponse): void;
  /**
   * a fast path (HTTP/1.1 or HTTP/2, no ServerResponse) answered a request: counted here from
   * these few values, with no entry built. True when the access log keeps this request: then
   * build its entry (fastEntry) and hand it to answered(). Under load the log keeps an even
   * sample, so most requests never make an entry.
   */
  fastAnswered(deploymentId: string, status: number, bytes: number, cache: FastCache): boolean;
  /** the whole entry of a fast-path request fastAnswered asked for (already counted) */
  answered(entry: ObservedRequest): void;
  /**
   * the HTTP/1.1 fast path gives this connection to node:http, once: the bytes written on it so
   * far were the fast path's answers (already in their entries), not the next response's
   */
  handedOver(socket: Socket): void;
}

/**
 * The whole entry of a request a fast path answered (no ServerResponse), once its answer is
 * handed to the socket or stream: `started` is performance.now() when the request arrived.
 */
export function fastEntry(started: number, method: string, host: string, path: string, status: number, bytes: number, deploymentId: string, clientIp: string, cache: FastCache): ObservedRequest {
  return { at: Math.round(performance.timeOrigin + started), method, host, path, status, bytes, durationMs: performance.now() - started, deploymentId, clientIp, cache };
}

const PENDING = Symbol('slipway.accessLog');
const ORIGIN = performance.timeOrigin;

/** The request while it is answered, and then its entry (the same object: one allocation a request). */
class Entry implements ObservedRequest {
  at = 0;
  method = '';
  host = '';
  path = '';
  status = 0;
  bytes = 0;
  durationMs = 0;
  deploymentId = '';
  clientIp = '';
  cache: CacheOutcome = 'none';
  constructor(
    public req: IncomingMessage | undefined,
    readonly started: number,
    readonly sink: (entry: ObservedRequest) => void,
  ) {}
}

type Tracked = ServerResponse & { [PENDING]?: Entry | undefined };
/** per connection: its bytesWritten when its previous response closed (responses on a connection are sequential) */
const SENT = Symbol('slipway.accessLog.sent');
type CountedSocket = { bytesWritten?: number; _bytesDispatched?: number; writableLength: number; [SENT]?: number };

/**
 * Bytes written to the socket so far. `bytesWritten` copies the socket's write queue into a new
 * array to add up what is still queued; with nothing queued (the usual case: the answer went to
 * the kernel at once) it equals the handle's own counter, `_bytesDispatched`, read without it.
 */
function socketBytes(socket: CountedSocket): number {
  const dispatched = socket.writableLength === 0 ? socket._bytesDispatched : undefined;
  return dispatched ?? socket.bytesWritten ?? 0;
}

/**
 * Fill in the entry of a response whose answer is out, and hand it to the sink.
 *
 * Bytes: on HTTP/1 the socket's bytesWritten counts everything written for this response,
 * including the edge's pre-serialised raw answers that bypass ServerResponse; on HTTP/2 the
 * session's counter is shared by its streams, so the Content-Length header counts instead.
 */
function record(e: Entry, req: IncomingMessage, res: ServerResponse, wroteBytes?: number): void {
  e.req = undefined;
  const now = performance.now();
  e.at = Math.round(ORIGIN + e.started);
  e.durationMs = now - e.started;
  e.method = req.method ?? '';
  e.host = hostOf(req.rawHeaders);
  e.path = req.url ?? '';
  e.status = res.statusCode;
  if (e.status === 304) e.cache = 'revalidated';
  // req.socket: node:http has detached res.socket by 'close'
  if (req.httpVersionMajor === 2) e.bytes = Number(res.getHeader('content-length') ?? 0) || 0;
  else if (wroteBytes !== undefined) {
    // the raw path knows what it wrote: no socket counter to read (a write the kernel did not
    // take at once would make bytesWritten copy the queue); the connection's tally moves on by it
    const socket = req.socket as unknown as CountedSocket;
    e.bytes = wroteBytes;
    socket[SENT] = (socket[SENT] ?? 0) + wroteBytes;
  } else {
    const socket = req.socket as unknown as CountedSocket;
    const total = socketBytes(socket);
    e.bytes = Math.max(0, total - (socket[SENT] ?? 0));
    socket[SENT] = total;
  }
  e.clientIp = req.socket.remoteAddress ?? '';
  e.sink(e);
}

/**
 * Runs once per response not recorded while its handler ran, on 'close' (emitted after every
 * response: finished, or cut off when the client went away). A plain function with `this`, so
 * no closure is made per request.
 */
function onClose(this: Tracked): void {
  const e = this[PENDING];
  const req = e?.req;
  if (e === undefined || req === undefined) return;
  this[PENDING] = undefined;
  record(e, req, this);
}

/** The Host header from the raw list: `req.headers` would build the whole headers object, which the edge never needs. */
function hostOf(raw: string[]): string {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // compared as written first: lower-casing every 4-letter name makes a string per request
    if (name.length === 4 && (name === 'Host' || name === 'host' || name.toLowerCase() === 'host')) return raw[i + 1] ?? '';
  }
  return '';
}

/**
 * Where a RequestObserver hands requests: a function gets every entry (tests); a log writer
 * (./writer.ts) counts every request and keeps a sample, so the fast paths ask it first.
 * Synchronous: it must only count and buffer.
 */
export type RequestSink =
  | ((entry: ObservedRequest) => void)
  | {
      request(entry: ObservedRequest): void;
      counted(deploymentId: string, status: number, bytes: number, cache: FastCache): boolean;
      keep(entry: ObservedRequest): void;
    };

/** A RequestObserver that hands every answered request to `to`. */
export function createRequestObserver(to: RequestSink): RequestObserver {
  // a function keeps every entry: every fast-path request is asked for
  const log = typeof to === 'function' ? { request: to, counted: () => true, keep: to } : to;
  const sink = (entry: ObservedRequest): void => log.request(entry);
  return {
    start(req, res) {
      (res as Tracked)[PENDING] = new Entry(req, performance.now(), sink);
    },
    site(res, deploymentId) {
      const e = (res as Tracked)[PENDING];
      if (e !== undefined) e.deploymentId = deploymentId;
    },
    cache(res, outcome) {
      const e = (res as Tracked)[PENDING];
      if (e !== undefined) e.cache = outcome;
    },
    wrote(res, bytes) {
      // the raw answer's bytes are with the socket now (sent or queued): counted as on 'close'
      const e = (res as Tracked)[PENDING];
      const req = e?.req;
      if (e === undefined || req === undefined) return;
      (res as Tracked)[PENDING] = undefined;
      record(e, req, res, bytes);
    },
    handled(res) {
      const e = (res as Tracked)[PENDING];
      if (e !== undefined && e.req !== undefined) res.on('close', onClose);
    },
    fastAnswered: (deploymentId, status, bytes, cache) => log.counted(deploymentId, status, bytes, cache),
    answered: (entry) => log.keep(entry),
    handedOver(socket) {
      (socket as unknown as CountedSocket)[SENT] = socketBytes(socket as unknown as CountedSocket);
    },
  };
}
