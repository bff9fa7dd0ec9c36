import { admitProtected, PROTECTION_PATH } from './protection.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { toError } from '../errors/index.js';
import { BlobCache } from './blob-cache.js';
import { BlobReader } from './blob-reader.js';
import { createFileResponder, type FileRequest } from './file-response.js';
import { createStreamFastPath } from './h2-static.js';
import { createHttp1FastPath, takeConnections } from './http1-fast.js';
import { BAD_GATEWAY_PAGE, BAD_REQUEST_PAGE, hostMissPage, INTERNAL_ERROR_PAGE, METHOD_NOT_ALLOWED_PAGE, redirectHost } from './pages.js';
import { createFunctionAnswer } from './function-origin.js';
import { rawResponsesSupported } from './raw-response.js';
import { readRequestHeaders } from './request-headers.js';
import { ACME_CHALLENGE_PATH, HEALTH_PREFIX, normaliseHost, requestPath, splitAbsoluteTarget } from './path.js';
import { BadHostError, LookupError, RouteTable } from './routes.js';
import { upgradeHandler } from './upgrade.js';
import { watchGeneration } from './generation.js';
import { createHttpsEdge, type HttpsEdge } from './https.js';
import { hasRules, serveWithRules } from './site-rules.js';
import { hasBackend, type Site } from './site.js';
import type { EdgeOptions, HostSettings, ResolvedSite } from './types.js';
import { logger } from '../log/index.js';

const edgeLog = logger('edge');

export interface EdgeServer {
  server: Server;
  /** the HTTPS and HTTP/2 server, when opts.tls is given (listen on it after `https.ready`) */
  https: HttpsEdge | undefined;
  /** Drop every cached Host -> deployment route now. */
  invalidate(): void;
  /**
   * An alias moved: look every cached Host up again and swap each route once its new target is
   * ready to answer (an SSR deployment's server started and healthy), so no request waits for a
   * cold start or fails because of the move. Polling the alias generation does this too.
   */
  refresh(): Promise<void>;
  /**
   * Start the server of a deployment that is about to take an alias (ready means live): resolves
   * once it answers; a static deployment only has its manifest loaded.
   */
  warm(site: ResolvedSite): Promise<void>;
  /** Routes loaded (the alias generation read once, certificates too with HTTPS): what /readyz says. */
  ready(): boolean;
  /** Stop polling, stop accepting, let in-flight responses finish (at most 5 s), then resolve. */
  close(): Promise<void>;
}

const MiB = 1024 * 1024;
/**
 * The static-file edge: Host -> deployment (lookup.resolveHost, cached) -> manifest (blob,
 * cached) -> file -> bytes (blob, cached in memory by LRU). Only manifest keys are ever
 * looked up, so no byte outside the deployment's manifest can be served.
 *
 * ```ts
 * const edge = createEdgeServer({ lookup, blobs: new LocalBlobStore(dir) });
 * edge.server.listen(8080);
 * // after moving an alias in this process: edge.invalidate();
 * ```
 */
export function createEdgeServer(opts: EdgeOptions): EdgeServer {
  const { lookup, blobs } = opts;
  const pollMs = opts.pollMs ?? 20;
  const missTtlMs = opts.missTtlMs ?? 1000;
  const streamThreshold = opts.streamThresholdBytes ?? 8 * MiB;
  const cache = new BlobCache(opts.memoryCacheBytes ?? 256 * MiB);
  const rawResponses = (opts.rawResponses ?? true) && rawResponsesSupported;
  const log = opts.log ?? ((message: string, error?: Error) => edgeLog.error(error === undefined ? {} : { err: error }, message));
  const servers = opts.servers;
  const drainGraceMs = opts.drainGraceMs ?? 30_000;
  const standbyMs = opts.standbyMs ?? 5 * 60_000;
  const observer = opts.observer;

  const flag = lookup.flagIntegrityError === undefined ? undefined : lookup.flagIntegrityError.bind(lookup);
  const reader = new BlobReader({ blobs, cache, report: (m, e) => report(m, e), flag });
  const routes = new RouteTable({ lookup, blobs, reader, missTtlMs, servers, drainGraceMs, standbyMs, report: (m, e) => report(m, e) });
  const keepAliveSeconds = (): number => Math.floor(server.keepAliveTimeout / 1000);
  const files = createFileResponder({
    observer,
    cache,
    reader,
    rawResponses,
    streamThreshold,
    keepAliveSeconds,
    sendPage: (...a) => sendPage(...a),
    fail: (...a) => fail(...a),
    report: (m, e) => report(m, e),
  });

  const toFunction = createFunctionAnswer({ observer, sendPage: (...a) => sendPage(...a), report: (m, e) => report(m, e), options: opts.functionProxy });

  const lastLogged = new Map<string, number>();
  /** log, but the same message at most every 10 s: a missing blob under load must not flood the log */
  function report(message: string, error?: unknown): void {
    const now = Date.now();
    const previous = lastLogged.get(message);
    if (previous !== undefined && now - previous < 10_000) return;
    if (lastLogged.size > 1000) lastLogged.clear();
    lastLogged.set(message, now);
    log(message, error === undefined ? undefined : toError(error));
  }

  function invalidate(): void {
    routes.invalidate();
  }

  // ---- responses that are not a deployment's file ----

  function sendPage(res: ServerResponse, status: number, body: Buffer, isHead: boolean, extra?: string[]): void {
    const headers = ['Content-Type', 'text/html; charset=utf-8', 'Content-Length', String(body.length), 'Cache-Control', 'no-store'];
    if (extra !== undefined) headers.push(...extra);
    res.writeHead(status, headers);
    if (isHead) res.end();
    else res.end(body);
  }

  function fail(res: ServerResponse, status: 500 | 502, message: string, error: unknown, isHead: boolean): void {
    report(message, error);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendPage(res, status, status === 502 ? BAD_GATEWAY_PAGE : INTERNAL_ERROR_PAGE, isHead);
  }

  // ---- ACME HTTP-01 (the answers are in the store, written by the certificate manager) ----

  const acmeHttpChallenge = lookup.acmeHttpChallenge?.bind(lookup);
  function answerAcmeChallenge(res: ServerResponse, token: string, isHead: boolean): void {
    const reply = (status: number, body: string) => {
      res.writeHead(status, ['Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(Buffer.byteLength(body)), 'Cache-Control', 'no-store']);
      res.end(isHead ? undefined : body);
    };
    if (!/^[A-Za-z0-9_-]{1,256}$/.test(token)) {
      reply(404, 'No ACME challenge is waiting for this token.\n');
      return;
    }
    acmeHttpChallenge!(token).then(
      (answer) => reply(answer === undefined ? 404 : 200, answer ?? 'No ACME challenge is waiting for this token.\n'),
      (error: unknown) => fail(res, 502, 'could not read the ACME challenge answer', error, isHead),
    );
  }

  // ---- health (see HEALTH_PREFIX) ----

  function answerHealth(res: ServerResponse, url: string, isHead: boolean): void {
    const which = url.slice(HEALTH_PREFIX.length).split('?')[0];
    const ok = which === 'healthz' || (which === 'readyz' && isReady());
    const body =
      which === 'healthz' || which === 'readyz'
        ? `${JSON.stringify({ status: ok ? 'ok' : 'starting', role: 'edge', ready: isReady(), generation: generation.current() ?? null })}\n`
        : '{"status":"unknown","hint":"ask /.well-known/slipway/healthz or /.well-known/slipway/readyz"}\n';
    const status = which === 'healthz' || which === 'readyz' ? (ok ? 200 : 503) : 404;
    res.writeHead(status, ['Content-Type', 'application/json', 'Content-Length', String(Buffer.byteLength(body)), 'Cache-Control', 'no-store']);
    res.end(isHead ? undefined : body);
  }

  // ---- the request ----

  /** `secure`: over HTTPS (HTTP/1.1 or HTTP/2: the compatibility API gives the same request and response shape) */
  function onRequest(req: IncomingMessage, res: ServerResponse, secure = false): void {
    observer?.start(req, res);
    try {
      handle(req, res, secure);
    } catch (error) {
      fail(res, 500, `request for ${req.url ?? '?'} failed`, error, req.method === 'HEAD');
    }
    observer?.handled(res);
  }

  function handle(req: IncomingMessage, res: ServerResponse, secure: boolean): void {
    const method = req.method;
    const isHead = method === 'HEAD';
    // health and readiness for a load balancer, on a path no deployment can shadow (any Host)
    if (req.url?.startsWith(HEALTH_PREFIX) === true && (method === 'GET' || isHead)) {
      answerHealth(res, req.url, isHead);
      return;
    }
    // ACME HTTP-01 answers come first, for any Host and before any site rule
    if (acmeHttpChallenge !== undefined && (method === 'GET' || isHead) && req.url?.startsWith(ACME_CHALLENGE_PATH) === true) {
      answerAcmeChallenge(res, req.url.slice(ACME_CHALLENGE_PATH.length), isHead);
      return;
    }
    // other methods can only mean something to a deployment's server: see toServer
    const staticOnly = method !== 'GET' && !isHead;
    // a protected host's password form posts here (answered below, once the host's settings are known)
    if (staticOnly && servers === undefined && !(method === 'POST' && req.url === PROTECTION_PATH)) {
      sendPage(res, 405, METHOD_NOT_ALLOWED_PAGE, false, ['Allow', 'GET, HEAD']);
      return;
    }

    const request = readRequestHeaders(req.rawHeaders, isHead);
    const host = request.host;
    if (host === undefined || host === '') {
      sendPage(res, 400, BAD_REQUEST_PAGE, isHead);
      return;
    }

    let target = req.url ?? '';
    if (target.charCodeAt(0) !== 47 /* / */) {
      // absolute-form ("GET http://host/path"): allowed only when it names the same host
      const absolute = splitAbsoluteTarget(target);
      const hostName = normaliseHost(host);
      if (absolute === undefined || hostName === undefined || normaliseHost(absolute.host) !== hostName) {
        sendPage(res, 400, BAD_REQUEST_PAGE, isHead);
        return;
      }
      target = absolute.path;
    }
    const path = requestPath(target);
    if (path === undefined) {
      sendPage(res, 400, BAD_REQUEST_PAGE, isHead);
      return;
    }

    // with HTTPS on: HTTP -> HTTPS redirects, and the page for a host that has no certificate
    const gate = https?.gate(host, target, path, secure);
    if (gate !== undefined) {
      sendPage(res, gate.status, gate.body, isHead, gate.location === undefined ? undefined : ['Location', gate.location]);
      return;
    }
    // a redirect domain keeps the scheme the request came in on
    const scheme: 'http' | 'https' = secure ? 'https' : 'http';

    const route = routes.get(host);
    if (route !== undefined) {
      if (route.site !== undefined) {
        observer?.site(res, route.site.deploymentId);
        if (!admitted(req, res, route.settings, target, path, secure, isHead)) return;
        if (secure && route.settings?.hsts !== undefined) res.setHeader('Strict-Transport-Security', route.settings.hsts);
        if (hasRules(route.site)) serveByRules(req, res, route.site, route.settings, path, target, host, staticOnly, secure, request);
        else if (staticOnly || (hasBackend(route.site) && !route.site.files.has(path))) toServer(req, res, route.site, isHead, secure);
        else files.serveFile(res, route.site, path, request);
        return;
      }
      if (route.settings?.redirect !== undefined) {
        redirectHost(res, route.settings.redirect, scheme, target, isHead);
        return;
      }
      if (route.pending === undefined && route.expires > Date.now()) {
        sendPage(res, 404, hostMissPage(host, route.settings), isHead);
        return;
      }
    }
    const hostHeader = host;
    routes
      .resolve(hostHeader)
      .then(
        (resolved) => {
          if (resolved.site !== undefined) observer?.site(res, resolved.site.deploymentId);
          if (secure && resolved.site !== undefined && resolved.settings?.hsts !== undefined) res.setHeader('Strict-Transport-Security', resolved.settings.hsts);
          if (resolved.site === undefined && resolved.settings?.redirect !== undefined) redirectHost(res, resolved.settings.redirect, scheme, target, isHead);
          else if (resolved.site === undefined) sendPage(res, 404, hostMissPage(hostHeader, resolved.settings), isHead);
          else if (!admitted(req, res, resolved.settings, target, path, secure, isHead)) return;
          else if (hasRules(resolved.site)) serveByRules(req, res, resolved.site, resolved.settings, path, target, hostHeader, staticOnly, secure, request);
          else if (staticOnly || (hasBackend(resolved.site) && !resolved.site.files.has(path))) toServer(req, res, resolved.site, isHead, secure);
          else files.serveFile(res, resolved.site, path, request);
        },
        (error: unknown) => {
          if (error instanceof BadHostError) sendPage(res, 400, BAD_REQUEST_PAGE, isHead);
          else if (error instanceof LookupError) fail(res, 502, `could not resolve host ${JSON.stringify(hostHeader)}`, error.cause, isHead);
          else fail(res, 500, `could not load the deployment for host ${JSON.stringify(hostHeader)}`, error, isHead);
        },
      )
      .catch((error: unknown) => fail(res, 500, `request for ${target} failed`, error, isHead)); // never an unhandled rejection
  }

  /**
   * Deployment protection comes before the site: false when the request was answered here (the
   * password form, its result). Without protection the form's path is the site's like any other.
   */
  function admitted(req: IncomingMessage, res: ServerResponse, settings: HostSettings | undefined, target: string, path: string, secure: boolean, isHead: boolean): boolean {
    if (settings?.protection !== undefined) return admitProtected(req, res, settings.protection, target, path, secure, isHead);
    if (servers === undefined && req.method !== 'GET' && !isHead) {
      sendPage(res, 405, METHOD_NOT_ALLOWED_PAGE, false, ['Allow', 'GET, HEAD']);
      return false;
    }
    return true;
  }

  /** A site with its own redirects, rewrites and headers: see ./site-rules.ts. */
  function serveByRules(
    req: IncomingMessage,
    res: ServerResponse,
    site: Site & { rules: NonNullable<Site['rules']> },
    settings: HostSettings | undefined,
    path: string,
    target: string,
    host: string,
    staticOnly: boolean,
    secure: boolean,
    request: FileRequest,
  ): void {
    const isHead = request.isHead;
    const answers = { file: (view: Site, at: string) => files.serveFile(res, view, at, request), server: (view: Site) => toServer(req, res, view, isHead, secure) };
    serveWithRules({ req, res, site, settings, path, target, host, isHead, staticOnly, secure }, answers, { proxy: opts.externalProxy, report });
  }

  /** Proxy to the deployment's server (started on demand) or its function on AWS; a static-only deployment answers 405. */
  function toServer(req: IncomingMessage, res: ServerResponse, site: Site, isHead: boolean, secure: boolean): void {
    if (site.origin !== undefined) return toFunction(req, res, site, site.origin, isHead, secure);
    if (site.server === undefined || servers === undefined) {
      sendPage(res, 405, METHOD_NOT_ALLOWED_PAGE, false, ['Allow', 'GET, HEAD', 'x-slipway-deployment', site.deploymentId]);
      return;
    }
    const gateway = servers;
    observer?.cache(res, 'server');
    const clientIp = req.socket.remoteAddress ?? '';
    // which version answered, as on static responses (merged into the server's own headers)
    res.setHeader('x-slipway-deployment', site.deploymentId);
    gateway
      .ensure(site.deploymentId, site.server)
      .then(
        (target) => gateway.proxy(req, res, site.deploymentId, target, { proto: secure ? 'https' : 'http', clientIp }),
        (error: unknown) => fail(res, 502, `the server of deployment ${site.deploymentId} did not start`, error, isHead),
      )
      .catch((error: unknown) => fail(res, 502, `proxying to deployment ${site.deploymentId} failed`, error, isHead));
  }

  // ---- server and alias polling ----

  const server = createServer(onRequest);
  server.on('upgrade', upgradeHandler(routes, servers, report));
  const fastPath = (tls: boolean) => createHttp1FastPath({ routes, files, observer, secure: tls, gate: (h, t, p) => https?.gate(h, t, p, tls), keepAliveMs: () => server.keepAliveTimeout, report });
  const fastHttp = rawResponses ? takeConnections(server, fastPath(false)) : undefined;
  const fastTls = rawResponses && opts.tls !== undefined ? fastPath(true) : undefined;
  const https: HttpsEdge | undefined =
    opts.tls === undefined
      ? undefined
      : createHttpsEdge(
          // notified of certificate changes too; then its poll is the safety net as for routes
          opts.changes === undefined ? opts.tls : { pollMs: pollMs, changes: opts.changes, ...opts.tls },
          {
            request: (req, res) => onRequest(req as unknown as IncomingMessage, res as unknown as ServerResponse, true),
            upgrade: upgradeHandler(routes, servers, report, 'https'),
            stream: createStreamFastPath({ routes, files, observer, covers: (name: string): boolean => https?.covers(name) === true }),
            http1: fastTls === undefined ? undefined : (socket, handOver) => fastTls.accept(socket, handOver),
          },
          report,
        );
  // idle keep-alive connections live as long as nginx's default (75 s), so clients reuse them
  server.keepAliveTimeout = 75_000;
  server.headersTimeout = 80_000;

  const generation = watchGeneration({
    read: () => lookup.aliasGeneration(),
    pollMs,
    changes: opts.changes,
    // the first answer invalidates too: routes cached before it may predate a move
    changed: async (seen, first) => {
      if (first) invalidate();
      else await routes.refresh();
      opts.served?.(seen);
    },
    report,
  });

  /** Ready for a load balancer: the routes' generation was read once (and with HTTPS, certificates loaded). */
  let tlsReady = https === undefined;
  https?.ready.then(
    () => {
      tlsReady = true;
    },
    () => undefined,
  );
  const isReady = (): boolean => generation.current() !== undefined && tlsReady;

  async function close(): Promise<void> {
    generation.stop();
    routes.close();
    for (const fast of [fastHttp, fastTls]) fast?.close();
    await Promise.all([https?.close(), closeHttp()]);
  }

  function closeHttp(): Promise<void> {
    return new Promise((resolve) => {
      if (!server.listening) {
        resolve();
        return;
      }
      const force = setTimeout(() => server.closeAllConnections(), 5000);
      force.unref();
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
      server.closeIdleConnections();
    });
  }

  return { server, https, invalidate, refresh: () => routes.refresh(), warm: (site) => routes.warm(site), ready: isReady, close };
}
