import { request, type Agent, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { sendErrorPage } from './pages.js';

export interface ProxyOptions {
  /** the scheme the client used to reach the edge */
  proto: 'http' | 'https';
  clientIp: string;
}

export interface Upstream {
  /** the server's address: 127.0.0.1, or its sandbox's own */
  host: string;
  port: number;
  agent: Agent;
  /** time allowed until the response headers arrive (not the whole body: streams may be long) */
  requestTimeoutMs: number;
}

/** Headers that describe one connection, not the request (RFC 9110 7.6.1), plus Expect, already answered. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'upgrade', 'expect']);
const IDEMPOTENT_WITHOUT_BODY = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Stream one request to a server on loopback and its response back. Resolves when the exchange
 * is over, whatever the outcome: the server unreachable or reset before it answered gives a 502
 * page, no response headers within the timeout a 504, a client that goes away aborts the
 * upstream request. Never rejects.
 */
export function proxyHttp(req: IncomingMessage, res: ServerResponse, upstream: Upstream, opts: ProxyOptions): Promise<void> {
  return new Promise((resolve) => {
    const headers = forwardHeaders(req, opts);
    const started = Date.now();
    let retried = false;
    let upstreamReq: ReturnType<typeof request> | undefined;
    let timer: NodeJS.Timeout | undefined;
    let done = false;

    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve();
    };
    res.once('close', () => {
      // the client went away (or the answer is complete): nothing more to wait for
      if (!res.writableFinished) upstreamReq?.destroy();
      finish();
    });

    const send = () => {
      const outgoing = request({ host: upstream.host, port: upstream.port, method: req.method, path: req.url, headers, agent: upstream.agent });
      upstreamReq = outgoing;
      outgoing.on('response', (up) => {
        clearTimeout(timer);
        if (res.destroyed) {
          up.destroy();
          return;
        }
        // HTTP/2 has no reason phrase (node warns when given one)
        if (req.httpVersionMajor === 2) res.writeHead(up.statusCode ?? 502, responseHeaders(up.headers));
        else res.writeHead(up.statusCode ?? 502, up.statusMessage, responseHeaders(up.headers));
        // a response without a length may be a stream the server feeds slowly: show its head now
        if (up.headers['content-length'] === undefined && req.method !== 'HEAD') res.flushHeaders();
        up.on('error', () => res.destroy());
        up.on('aborted', () => res.destroy());
        up.pipe(res);
      });
      outgoing.on('error', (err: NodeJS.ErrnoException) => {
        if (done || res.destroyed) return;
        // a kept-alive socket the server closed just as it was reused: the request never
        // reached the server, so sending it again on a fresh socket is safe when it has no body
        if (!retried && outgoing.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE') && IDEMPOTENT_WITHOUT_BODY.has(req.method ?? '') && !res.headersSent) {
          retried = true;
          send();
          return;
        }
        sendErrorPage(res, 502);
      });
      if (IDEMPOTENT_WITHOUT_BODY.has(req.method ?? '') && req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) {
        outgoing.end();
      } else {
        req.pipe(outgoing);
      }
    };

    timer = setTimeout(
      () => {
        if (res.headersSent) return;
        upstreamReq?.destroy();
        sendErrorPage(res, 504);
      },
      Math.max(0, upstream.requestTimeoutMs - (Date.now() - started)),
    );
    send();
  });
}

export function forwardHeaders(req: IncomingMessage, opts: ProxyOptions): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const named = connectionHeaders(req.headers.connection);
  for (const [name, value] of Object.entries(req.headers)) {
    // HTTP/2 pseudo-headers (:method, :path, :authority, :scheme) are not HTTP/1.1 headers
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name) || name.charCodeAt(0) === 58 /* : */) continue;
    out[name] = value;
  }
  // an HTTP/2 client names the host in :authority; the server behind sees it as Host
  const host = req.headers.host ?? (req.headers as Record<string, string | string[] | undefined>)[':authority'];
  if (typeof host === 'string') out.host = host;
  // the edge is where the client's connection ends: it states these, it does not relay them
  if (typeof host === 'string') out['x-forwarded-host'] = host;
  else delete out['x-forwarded-host'];
  out['x-forwarded-proto'] = opts.proto;
  out['x-forwarded-port'] = String(req.socket.localPort ?? (opts.proto === 'https' ? 443 : 80));
  const prior = req.headers['x-forwarded-for'];
  out['x-forwarded-for'] = prior === undefined || prior === '' ? opts.clientIp : `${prior}, ${opts.clientIp}`;
  return out;
}

function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const named = connectionHeaders(headers.connection);
  for (const [name, value] of Object.entries(headers)) {
    // framing is the edge's own business with its client (it re-chunks when there is no length)
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name) || name === 'transfer-encoding') continue;
    out[name] = value;
  }
  return out;
}

/** headers a Connection header names are hop-by-hop too */
function connectionHeaders(value: string | undefined): Set<string> {
  if (value === undefined) return new Set();
  return new Set(
    value
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== ''),
  );
}
