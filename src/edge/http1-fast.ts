import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { fastEntry, type RequestObserver } from '../access-log/index.js';
import { fastFile } from './fast-file.js';
import type { FileResponder } from './file-response.js';
import { type FastRequest, NOT_MINE, readHead } from './http1-head.js';
import { etagMatches } from './negotiate.js';
import { buildRawHead, buildRawResponse, type RawResponse } from './raw-response.js';
import type { RouteTable } from './routes.js';
import type { Representation } from './site.js';

export interface Http1FastPathOptions {
  routes: RouteTable;
  files: FileResponder;
  /** connections over TLS (HSTS goes into the head; the gate is asked with secure = true) */
  secure: boolean;
  /** the HTTPS gate (HTTP -> HTTPS redirect, the no-certificate page): anything but undefined is node:http's to answer */
  gate(host: string, target: string, path: string): unknown;
  /** the server's keepAliveTimeout: how long an idle connection stays, and what Keep-Alive announces */
  keepAliveMs(): number;
  /** told of each request answered here (access log, metrics) */
  observer?: RequestObserver | undefined;
  report(message: string, error?: unknown): void;
}

export interface Http1FastPath {
  /** Take a new connection; `handOver` gives it to node:http (its own connection listener). */
  accept(socket: Socket, handOver: (socket: Socket) => void): void;
  /**
   * The edge closes: idle connections end now, one waiting for 'drain' once its answers are out
   * (destroyed if still here after 5 s, as node:http's are); new ones go to node:http.
   */
  close(): void;
}

/**
 * Answers queued on a socket (not yet taken by the kernel, or by TLS) beyond which no more
 * requests are read until 'drain'. Not writableNeedDrain: a 50 KB answer sets that every time,
 * also when the kernel takes it at once, and the pause would cost every request a 'drain' and a
 * resume. This bounds what a client that sends and never reads can make the edge hold.
 */
const MAX_QUEUED_BYTES = 128 * 1024;
/** as the edge's close() gives node:http's connections */
const CLOSE_DEADLINE_MS = 5000;

/** heads without a body (HEAD, 304) and the HSTS variant of the whole answer, for one representation and second */
interface Heads {
  second: number;
  hsts: string | undefined;
  full: Buffer | undefined;
  notModified: Buffer | undefined;
  raw: RawResponse | undefined;
}

/**
 * The edge's HTTP/1.1 fast path, below node:http: each new connection is read here first, and
 * the most common request (GET or HEAD of a file in memory, of a site without rules or on a
 * path whose rule outcome is remembered, on a host already routed and unprotected; as
 * ./h2-static.ts for HTTP/2) is answered with the pre-serialised response
 * of ./raw-response.ts, the same bytes node:http's path sends. That spares node:http's parser,
 * IncomingMessage and ServerResponse, most of the CPU of a small answer.
 *
 * The first request that is anything else (see ./http1-head.ts: a body, an upgrade, an odd
 * byte, a head not complete in what was read; or an answer that is not a file from memory)
 * hands the connection to node:http at that request's first byte, with the bytes read so far,
 * and it stays there. Nothing is written for a request before that decision.
 */
export function createHttp1FastPath(opts: Http1FastPathOptions): Http1FastPath {
  const { routes, files, observer, secure } = opts;
  const connections = new Set<FastConnection>();
  const heads = new WeakMap<Representation, Heads>();
  let closing = false;

  function headsFor(rep: Representation, hsts: string | undefined, second: number): Heads {
    let found = heads.get(rep);
    if (found === undefined || found.second !== second || found.hsts !== hsts) {
      found = { second, hsts, full: undefined, notModified: undefined, raw: undefined };
      heads.set(rep, found);
    }
    return found;
  }

  /** node:http's writeHead puts headers set before it (HSTS, with setHeader) first */
  const withHsts = (list: readonly string[], hsts: string | undefined): readonly string[] => (hsts === undefined ? list : ['Strict-Transport-Security', hsts, ...list]);

  /** Answer `req` on `socket` as node:http's path would: true once written; false, having written nothing. */
  function answer(socket: Socket, req: FastRequest): boolean {
    const started = observer === undefined ? 0 : performance.now();
    const target = req.target;
    const host = req.host;
    if (host === '') return false;
    const found = fastFile(routes, host, target);
    if (found === undefined || opts.gate(host, target, found.path) !== undefined) return false;
    const { site, file } = found;
    const rep = files.negotiate(file, req.acceptEncoding);
    if (rep.status !== 200) return false;
    const hsts = secure ? found.settings?.hsts : undefined;
    const second = Math.floor(Date.now() / 1000);
    const keepAlive = Math.floor(opts.keepAliveMs() / 1000);
    let status = 200;
    let bytes: number;
    let cache: 'hit' | 'revalidated' | 'none' = 'none';
    if (req.ifNoneMatch !== undefined && etagMatches(req.ifNoneMatch, rep.etag)) {
      const h = headsFor(rep, hsts, second);
      h.notModified ??= buildRawHead(304, withHsts(rep.notModifiedHeaders, hsts), second, keepAlive);
      socket.write(h.notModified);
      status = 304;
      bytes = h.notModified.length;
      cache = 'revalidated';
    } else if (req.isHead) {
      const h = headsFor(rep, hsts, second);
      h.full ??= buildRawHead(200, withHsts(rep.fullHeaders, hsts), second, keepAlive);
      socket.write(h.full);
      bytes = h.full.length;
    } else {
      const body = files.bytesInMemory(rep);
      if (body === undefined) return false;
      let raw: RawResponse;
      if (hsts === undefined) {
        // shared with node:http's raw path (./file-response.ts): one serialisation per second
        raw = rep.raw !== undefined && rep.raw.second === second ? rep.raw : buildRawResponse(200, rep.fullHeaders, body, second, keepAlive);
        rep.raw = raw;
      } else {
        const h = headsFor(rep, hsts, second);
        h.raw ??= buildRawResponse(200, withHsts(rep.fullHeaders, hsts), body, second, keepAlive);
        raw = h.raw;
      }
      if (raw.whole !== undefined) socket.write(raw.whole);
      else {
        socket.cork();
        socket.write(raw.head);
        socket.write(body);
        socket.uncork();
      }
      bytes = raw.head.length + body.length;
      cache = 'hit';
    }
    // counted from these values; an entry only for a request the access log keeps
    if (observer?.fastAnswered(site.deploymentId, status, bytes, cache) === true) {
      observer.answered(fastEntry(started, req.isHead ? 'HEAD' : 'GET', host, target, status, bytes, site.deploymentId, socket.remoteAddress ?? '', cache));
    }
    return true;
  }

  /** One connection while it is ours. */
  class FastConnection {
    /** bytes read and not answered yet, from a request's first byte (only while waiting for 'drain') */
    private pending: Buffer | undefined;
    private waiting = false;
    private ended = false;

    constructor(
      readonly socket: Socket,
      private readonly handOver: (socket: Socket) => void,
    ) {
      socket.on('data', this.onData);
      socket.on('drain', this.onDrain);
      socket.on('end', this.onEnd);
      socket.on('timeout', this.onTimeout);
      socket.on('error', this.onError);
      socket.on('close', this.onClose);
      socket.setTimeout(opts.keepAliveMs());
    }

    private readonly onData = (chunk: Buffer): void => {
      this.run(chunk);
    };

    /** Answer the requests in `buf` one by one, until one is not ours or the socket needs to drain. */
    private run(buf: Buffer): void {
      let offset = 0;
      while (offset < buf.length) {
        if (closing) {
          this.socket.destroySoon();
          return;
        }
        const req = readHead(buf, offset);
        let answered: boolean;
        try {
          answered = req !== NOT_MINE && answer(this.socket, req);
        } catch (error) {
          // a bug, not the client: part of an answer may be out, so the connection cannot go on
          opts.report('the HTTP/1.1 fast path failed', error);
          this.socket.destroy();
          return;
        }
        if (!answered) {
          this.release(buf.subarray(offset));
          return;
        }
        offset = (req as FastRequest).end;
        if (this.socket.writableLength > MAX_QUEUED_BYTES) {
          // a client that sends and does not read: read no more until it has taken these answers
          this.pending = offset < buf.length ? buf.subarray(offset) : undefined;
          this.waiting = true;
          this.socket.pause();
          return;
        }
      }
    }

    private readonly onDrain = (): void => {
      if (!this.waiting) return;
      this.waiting = false;
      const pending = this.pending;
      this.pending = undefined;
      if (pending !== undefined) this.run(pending);
      if (this.waiting || !connections.has(this)) return; // paused again, or handed over
      if (closing || this.ended) this.socket.destroySoon();
      else this.socket.resume();
    };

    private readonly onEnd = (): void => {
      // the client sent its last request: end once every answer is out, as node:http does
      this.ended = true;
      if (!this.waiting) this.socket.end();
    };

    private readonly onTimeout = (): void => {
      this.socket.destroy();
    };

    private readonly onError = (): void => {
      this.socket.destroy(); // a reset or broken pipe: nothing to report
    };

    private readonly onClose = (): void => {
      connections.delete(this);
    };

    /** Give the connection to node:http with `rest` (a request's first byte on) as the next bytes it reads. */
    private release(rest: Buffer): void {
      const socket = this.socket;
      this.detach();
      // paused for 'drain': bytes the socket buffered meanwhile come after rest
      if (socket.readableLength > 0) {
        const more = socket.read() as Buffer | null;
        if (more !== null) rest = rest.length === 0 ? more : Buffer.concat([rest, more]);
      }
      observer?.handedOver(socket);
      this.handOver(socket);
      // node:http listens for 'data' now (and reads the handle itself from here on): these bytes first
      if (rest.length > 0) socket.emit('data', rest);
      if (socket.isPaused()) socket.resume();
    }

    private detach(): void {
      const socket = this.socket;
      connections.delete(this);
      socket.setTimeout(0);
      socket.off('data', this.onData);
      socket.off('drain', this.onDrain);
      socket.off('end', this.onEnd);
      socket.off('timeout', this.onTimeout);
      socket.off('error', this.onError);
      socket.off('close', this.onClose);
    }

    /** the edge closes: end now, unless answers wait for 'drain' (then after them) */
    close(): void {
      if (!this.waiting) this.socket.destroySoon();
    }
  }

  return {
    accept(socket, handOver) {
      if (closing) handOver(socket);
      else connections.add(new FastConnection(socket, handOver));
    },
    close() {
      closing = true;
      for (const connection of connections) connection.close();
      const deadline = setTimeout(() => {
        for (const connection of connections) connection.socket.destroy();
      }, CLOSE_DEADLINE_MS);
      deadline.unref();
    },
  };
}

/** Put `fast` in front of node:http's own 'connection' listener, which gets the connections it hands over. */
export function takeConnections(server: Server, fast: Http1FastPath): Http1FastPath {
  const nodeHttp = server.listeners('connection') as Array<(socket: Socket) => void>;
  server.removeAllListeners('connection');
  const handOver = (socket: Socket): void => {
    for (const listener of nodeHttp) listener.call(server, socket);
  };
  server.on('connection', (socket: Socket) => fast.accept(socket, handOver));
  return fast;
}
