import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessEntry } from './store.js';

/** How the bytes of a response were found (the `cache` label of slipway_edge_requests_total). */
export type CacheOutcome = 'hit' | 'miss' | 'stream' | 'revalidated' | 'server' | 'none';

/** One answered request on its way to the log: an AccessEntry whose deployment may be unknown. */
export interface ObservedRequest extends Omit<AccessEntry, 'deploymentId'> {
  /** '' when the request reached no deployment (unknown host, bad request, ACME) */
  deploymentId: string;
  cache: CacheOutcome;
}

/**
 * What the edge calls per request (see EdgeOptions.observer). Everything here is O(1) and
 * allocation-light: the request's fields are copied into one object when the response
 * finishes and pushed onto a buffer; the writer (./writer.ts) takes the buffer in batches.
 */
export interface RequestObserver {
  /** a request arrived (before any answer is written) */
  start(req: IncomingMessage, res: ServerResponse): void;
  /** the request is for this deployment */
  site(res: ServerResponse, deploymentId: string): void;
  /** where the answer's bytes came from */
  cache(res: ServerResponse, outcome: CacheOutcome): void;
}

const PENDING = Symbol('slipway.accessLog');

interface Pending {
  req: IncomingMessage;
  at: number;
  started: number;
  bytesBefore: number;
  deploymentId: string;
  cache: CacheOutcome;
}

type Tracked = ServerResponse & { [PENDING]?: Pending };

/**
 * A RequestObserver that hands every finished request to `sink` (called synchronously from the
 * response's 'finish' or 'close'; it must only buffer).
 *
 * Bytes: on HTTP/1 the socket's bytesWritten counts everything written for this response,
 * including the edge's pre-serialised raw answers that bypass ServerResponse; on HTTP/2 the
 * session's counter is shared by its streams, so the Content-Length header counts instead.
 */
export function createRequestObserver(sink: (entry: ObservedRequest) => void): RequestObserver {
  function done(this: Tracked): void {
    const p = this[PENDING];
    if (p === undefined) return;
    this[PENDING] = undefined;
    const req = p.req;
    let bytes: number;
    if (req.httpVersionMajor === 2) bytes = Number(this.getHeader('content-length') ?? 0) || 0;
    // req.socket: node:http has detached res.socket by the time 'finish' reaches us
    else bytes = Math.max(0, (req.socket.bytesWritten ?? p.bytesBefore) - p.bytesBefore);
    sink({
      at: p.at,
      method: req.method ?? '',
      host: req.headers.host ?? '',
      path: req.url ?? '',
      status: this.statusCode,
      bytes,
      durationMs: performance.now() - p.started,
      deploymentId: p.deploymentId,
      clientIp: req.socket.remoteAddress ?? '',
      cache: this.statusCode === 304 ? 'revalidated' : p.cache,
    });
  }
  return {
    start(req, res) {
      const tracked = res as Tracked;
      tracked[PENDING] = { req, at: Date.now(), started: performance.now(), bytesBefore: req.httpVersionMajor === 2 ? 0 : (req.socket.bytesWritten ?? 0), deploymentId: '', cache: 'none' };
      res.once('finish', done);
      // a client that went away before the end: logged too, with what was sent
      res.once('close', done);
    },
    site(res, deploymentId) {
      const p = (res as Tracked)[PENDING];
      if (p !== undefined) p.deploymentId = deploymentId;
    },
    cache(res, outcome) {
      const p = (res as Tracked)[PENDING];
      if (p !== undefined) p.cache = outcome;
    },
  };
}
