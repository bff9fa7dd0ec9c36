import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket, type SecureContext } from 'node:tls';
import { noCertificatePage } from './pages.js';
import type { ChangeSignal } from './types.js';
import { normaliseHost } from './path.js';
import { clientHelloComplete, MAX_CLIENT_HELLO_BYTES, parseClientHello } from '../tls/client-hello.js';
import { selfSignedCertificate, DEFAULT_CERTIFICATE_NAME } from '../tls/default-certificate.js';
import type { TlsSource } from '../tls/edge-source.js';
import { filesStamp, readOperatorCertificate } from '../tls/operator-certificate.js';
import { ticketKeys } from '../tls/session-tickets.js';
import { SniTable, type TableCertificate } from '../tls/sni-table.js';

export interface EdgeTlsOptions {
  /** where certificates and TLS-ALPN-01 challenges come from (the store: src/tls/edge-source.ts) */
  source: TlsSource;
  /** the platform key (<dataDir>/secret.key): session ticket keys are derived from it */
  platformKey: Buffer;
  /** the operator's own certificate and key files (--tls-cert, --tls-key), read again when they change */
  operator?: { certFile: string; keyFile: string };
  /** the HTTPS port put in HTTP -> HTTPS redirects (default: the port this server listens on) */
  publicPort?: number;
  /** how often to poll source.generation(), ms (default 250; with `changes` it is the safety net) */
  pollMs?: number;
  /** pushed change notifications (PostgreSQL LISTEN/NOTIFY): a certificate change is loaded at once */
  changes?: ChangeSignal;
}

export interface HttpsEdge {
  server: Http2SecureServer;
  /** the first certificates are loaded (and a default certificate is in place): listen after this */
  ready: Promise<void>;
  /** Does a real certificate (the operator's or a stored one, not the default) cover this host (lower-case, no port)? */
  covers(host: string): boolean;
  /** the port for https:// URLs: publicPort, else the bound port, else 443 */
  port(): number;
  /**
   * What a request must get before its site is looked at: plain HTTP for a host a real
   * certificate covers, a 308 to https:// (path and query kept; not ACME HTTP-01 challenges);
   * HTTPS for a host none covers (the handshake used the default certificate), a 421 page that
   * says what to do. Undefined: serve the request as usual.
   */
  gate(hostHeader: string, target: string, path: string, secure: boolean): { status: 308 | 421; body: Buffer; location?: string } | undefined;
  /** Stop polling, stop accepting, let streams and requests in flight finish (at most 5 s). */
  close(): Promise<void>;
}

export interface HttpsHandlers {
  request(req: Http2ServerRequest, res: Http2ServerResponse): void;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** an HTTP/2 stream, before the compatibility API sees it: true when answered (see ./h2-static.ts) */
  stream?(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number): boolean;
  /** an HTTP/1.1 connection, before node:http sees it (see ./http1-fast.ts); `handOver` gives it to node:http */
  http1?: ((socket: TLSSocket, handOver: (socket: Socket) => void) => void) | undefined;
}

const ACME_TLS_ALPN = 'acme-tls/1';
/** a client that has not sent its ClientHello by then is not going to */
const HELLO_TIMEOUT_MS = 10_000;
/** the same in every edge process (the default derives from argv): a TLS 1.2 session resumes on any of them */
const SESSION_ID_CONTEXT = 'slipway-edge';
const OPERATOR_CHECK_MS = 1000;

/**
 * The HTTPS side of the edge: HTTP/2 and HTTP/1.1 (ALPN) over TLS, with the certificate picked
 * by SNI from an in-memory table (see ../tls/sni-table.ts) that follows the store's
 * tls_generation and the operator's files. Requests go to the same handler as plain HTTP.
 *
 * While a TLS-ALPN-01 challenge is pending, each new connection's ClientHello is read before
 * node:tls sees it: one that offers `acme-tls/1` for a name with a challenge gets the challenge
 * certificate and is closed after the handshake (RFC 8737); any other is handed on untouched
 * (the bytes read are put back). With no challenge pending nothing is read early.
 */
export function createHttpsEdge(opts: EdgeTlsOptions, handlers: HttpsHandlers, report: (message: string, error?: unknown) => void): HttpsEdge {
  const table = new SniTable();
  const pollMs = opts.pollMs ?? 250;
  let ticketPeriodKeys = ticketKeys(opts.platformKey, Date.now());
  let defaultPem: string | undefined;

  const server = createSecureServer(
    {
      allowHTTP1: true,
      // as node:http does for the HTTP port: a response is written whole, never held back for an ACK
      noDelay: true,
      sessionIdContext: SESSION_ID_CONTEXT,
      SNICallback: (servername, done) => done(null, table.contextFor(normaliseName(servername))),
    },
    handlers.request,
  );
  // node:tls wraps each connection in its own 'connection' listener: ours goes in front of it
  const wrap = server.listeners('connection') as Array<(socket: Socket) => void>;
  server.removeAllListeners('connection');
  // likewise the compatibility API's 'stream' listener (added with the request handler): streams
  // the fast path does not answer go on to it
  const fast = handlers.stream;
  if (fast !== undefined) {
    const compat = server.listeners('stream') as Array<(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => void>;
    server.removeAllListeners('stream');
    server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
      let answered: boolean;
      try {
        answered = fast(stream, headers, flags);
      } catch (error) {
        report('the HTTP/2 fast path failed', error);
        answered = stream.headersSent;
        if (answered) stream.destroy();
      }
      if (answered) return;
      for (const listener of compat) listener.call(server, stream, headers, flags, rawHeaders);
    });
  }
  // HTTP/1.1 over TLS: node:http2 passes such connections to node:http from its 'secureConnection'
  // listener; the fast path goes in front of it for them, h2 connections go on to it untouched
  const http1 = handlers.http1;
  if (http1 !== undefined) {
    const secured = server.listeners('secureConnection') as Array<(socket: Socket) => void>;
    server.removeAllListeners('secureConnection');
    const handOver = (socket: Socket): void => {
      for (const listener of secured) listener.call(server, socket);
    };
    server.on('secureConnection', (socket: TLSSocket) => {
      if (socket.alpnProtocol === 'http/1.1' || socket.alpnProtocol === false) http1(socket, handOver);
      else handOver(socket);
    });
  }
  server.setTicketKeys(ticketPeriodKeys);
  server.on('upgrade', handlers.upgrade);
  // as on the HTTP port: idle keep-alive connections live as long as nginx's default
  // (node:http reads these from the server for the HTTP/1.1 connections http2 hands it; the types lack them)
  Object.assign(server, { keepAliveTimeout: 75_000, headersTimeout: 80_000 });
  server.on('tlsClientError', () => undefined); // scanners and aborted handshakes: nothing to report

  const sockets = new Set<Socket>();
  const sessions = new Set<Http2Session>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('session', (session: Http2Session) => {
    // an idle HTTP/2 session (no bytes either way) is closed, as HTTP/1.1 keep-alive connections
    // are; on the session only: a server timeout would also time every HTTP/1.1 socket's I/O
    session.setTimeout(120_000, () => session.close());
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });

  const accept = (socket: Socket): void => {
    for (const listener of wrap) listener.call(server, socket);
  };
  server.on('connection', (socket: Socket) => {
    if (table.hasChallenges) peekHello(socket);
    else accept(socket);
  });

  function peekHello(socket: Socket): void {
    let buffered: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS);
    const onError = (): void => {
      clearTimeout(timer);
      socket.destroy();
    };
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      if (!clientHelloComplete(buffered) && buffered.length < MAX_CLIENT_HELLO_BYTES) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.pause();
      socket.unshift(buffered); // node:tls reads what is buffered on the socket before the rest
      const hello = parseClientHello(buffered);
      const challenge = hello?.servername !== undefined && hello.alpn.includes(ACME_TLS_ALPN) ? table.challengeFor(normaliseName(hello.servername)) : undefined;
      if (challenge === undefined) accept(socket);
      else answerChallenge(socket, challenge);
    };
    socket.on('error', onError);
    socket.on('data', onData);
    socket.once('close', () => clearTimeout(timer));
  }

  function answerChallenge(socket: Socket, context: SecureContext): void {
    const tls = new TLSSocket(socket, { isServer: true, secureContext: context, ALPNProtocols: [ACME_TLS_ALPN] });
    const timer = setTimeout(() => tls.destroy(), HELLO_TIMEOUT_MS);
    tls.once('secure', () => {
      clearTimeout(timer);
      tls.end(); // RFC 8737 3: the handshake is the whole answer
    });
    tls.on('error', () => {
      clearTimeout(timer);
      tls.destroy();
    });
  }

  // ---- the certificates ----

  async function useDefault(cert: TableCertificate | undefined): Promise<void> {
    // a store without one (tests with their own source): one of our own, for this process only
    const chosen = cert ?? (defaultPem === undefined ? { names: [DEFAULT_CERTIFICATE_NAME], notAfter: Infinity, ...selfSignedCertificate([DEFAULT_CERTIFICATE_NAME], 3650) } : undefined);
    if (chosen === undefined || chosen.certPem === defaultPem) return;
    // a new default context starts without ticket keys and session id context: give it ours
    server.setSecureContext({ cert: chosen.certPem, key: chosen.keyPem, sessionIdContext: SESSION_ID_CONTEXT, ticketKeys: ticketPeriodKeys });
    defaultPem = chosen.certPem;
  }

  let generation: number | undefined;
  let operatorStamp: string | undefined;
  let operatorCheckedAt = 0;

  async function loadStored(): Promise<void> {
    const next = await opts.source.generation();
    if (next === generation && Date.now() < table.nextExpiry) return;
    const { certificates, challenges } = await opts.source.load();
    table.setStored(certificates, challenges);
    generation = next;
    await useDefault(table.defaultCertificate);
  }

  async function loadOperator(): Promise<void> {
    const operator = opts.operator;
    if (operator === undefined || Date.now() - operatorCheckedAt < OPERATOR_CHECK_MS) return;
    operatorCheckedAt = Date.now();
    const stamp = await filesStamp([operator.certFile, operator.keyFile]);
    if (stamp === operatorStamp) return;
    try {
      table.setOperator(await readOperatorCertificate(operator.certFile, operator.keyFile));
      operatorStamp = stamp;
    } catch (error) {
      // keep serving the certificate read before; the next change of the files tries again
      operatorStamp = stamp;
      report(`could not use the certificate in ${operator.certFile}; still serving the one read before`, error);
    }
  }

  function rotateTicketKeys(): void {
    const keys = ticketKeys(opts.platformKey, Date.now());
    if (keys.equals(ticketPeriodKeys)) return;
    ticketPeriodKeys = keys;
    server.setTicketKeys(keys);
  }

  let polling = false;
  /** a notification came during a check that may have read the generation before the change */
  let pollAgain = false;
  const poll = async (): Promise<void> => {
    if (polling) {
      pollAgain = true;
      return;
    }
    polling = true;
    try {
      do {
        pollAgain = false;
        await loadOperator();
        await loadStored();
        rotateTicketKeys();
      } while (pollAgain);
    } catch (error) {
      report('reloading TLS certificates failed; the ones loaded before stay until it works again', error);
    } finally {
      polling = false;
    }
  };

  const ready = (async () => {
    if (opts.operator !== undefined) {
      // at start-up a bad file stops the process: the operator is there to read the message
      table.setOperator(await readOperatorCertificate(opts.operator.certFile, opts.operator.keyFile));
      operatorStamp = await filesStamp([opts.operator.certFile, opts.operator.keyFile]);
      operatorCheckedAt = Date.now();
    }
    await loadStored();
  })();
  let timer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  ready.then(
    () => {
      timer = setInterval(() => void poll(), pollMs);
      timer.unref();
      unsubscribe = opts.changes?.subscribe((change) => {
        if (change === 'tls_generation' || change === 'reconnected') void poll();
      });
    },
    () => undefined, // the caller awaits ready and reports
  );

  function port(): number {
    if (opts.publicPort !== undefined) return opts.publicPort;
    const address = server.address();
    return address !== null && typeof address === 'object' ? address.port : 443;
  }

  function close(): Promise<void> {
    clearInterval(timer);
    unsubscribe?.();
    return new Promise((resolve) => {
      if (!server.listening) {
        resolve();
        return;
      }
      const force = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, 5000);
      force.unref();
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
      // HTTP/2: GOAWAY, streams in flight finish; HTTP/1.1: idle connections go now, busy ones after their response
      for (const session of sessions) session.close();
      (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
    });
  }

  const EMPTY = Buffer.alloc(0);
  function gate(hostHeader: string, target: string, path: string, secure: boolean): ReturnType<HttpsEdge['gate']> {
    const name = normaliseHost(hostHeader);
    if (name === undefined) return undefined; // the route lookup answers a bad Host
    const covered = table.covers(name);
    if (secure) return covered ? undefined : { status: 421, body: noCertificatePage(name) };
    if (!covered || path.startsWith('/.well-known/acme-challenge/')) return undefined;
    const p = port();
    return { status: 308, body: EMPTY, location: `https://${name}${p === 443 ? '' : `:${p}`}${target}` };
  }

  return { server, ready, covers: (host) => table.covers(host), port, gate, close };
}

/** SNI names are case-insensitive and may carry the root's trailing dot */
function normaliseName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}
