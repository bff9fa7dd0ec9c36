import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import { pipeline } from 'node:stream';
import { toError } from '../errors/index.js';
import { BlobCache } from './blob-cache.js';
import { BlobReader } from './blob-reader.js';
import { ACCEPT_BR, ACCEPT_GZIP, IGNORE_RANGE, UNSATISFIABLE, acceptedEncodings, etagMatches, parseRange, type ByteRange } from './negotiate.js';
import { BAD_GATEWAY_PAGE, BAD_REQUEST_PAGE, INTERNAL_ERROR_PAGE, METHOD_NOT_ALLOWED_PAGE, NOT_FOUND_PAGE, unknownHostPage } from './pages.js';
import { buildRawResponse, rawResponsesSupported, writeRaw } from './raw-response.js';
import { normaliseHost, requestPath, splitAbsoluteTarget } from './path.js';
import { BadHostError, LookupError, RouteTable } from './routes.js';
import { upgradeHandler } from './upgrade.js';
import { createHttpsEdge, type HttpsEdge } from './https.js';
import { hasRules, serveWithRules } from './site-rules.js';
import type { Representation, Site, SiteFile } from './site.js';
import type { EdgeOptions, HostRedirect, HostSettings } from './types.js';

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
  /** Stop polling, stop accepting, let in-flight responses finish (at most 5 s), then resolve. */
  close(): Promise<void>;
}

const MiB = 1024 * 1024;
const ACME_CHALLENGE_PATH = '/.well-known/acme-challenge/';
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
  const log = opts.log ?? ((message: string, error?: Error) => console.error(`[edge] ${message}`, error ?? ''));
  const servers = opts.servers;
  const drainGraceMs = opts.drainGraceMs ?? 30_000;
  const standbyMs = opts.standbyMs ?? 5 * 60_000;

  const flag = lookup.flagIntegrityError === undefined ? undefined : lookup.flagIntegrityError.bind(lookup);
  const reader = new BlobReader({ blobs, cache, report: (m, e) => report(m, e), flag });
  const routes = new RouteTable({ lookup, blobs, reader, missTtlMs, servers, drainGraceMs, standbyMs, report: (m, e) => report(m, e) });

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

  // ---- the request ----

  /** `secure`: over HTTPS (HTTP/1.1 or HTTP/2: the compatibility API gives the same request and response shape) */
  function onRequest(req: IncomingMessage, res: ServerResponse, secure = false): void {
    try {
      handle(req, res, secure);
    } catch (error) {
      fail(res, 500, `request for ${req.url ?? '?'} failed`, error, req.method === 'HEAD');
    }
  }

  function handle(req: IncomingMessage, res: ServerResponse, secure: boolean): void {
    const method = req.method;
    const isHead = method === 'HEAD';
    // ACME HTTP-01 answers come first, for any Host and before any site rule
    if (acmeHttpChallenge !== undefined && (method === 'GET' || isHead) && req.url?.startsWith(ACME_CHALLENGE_PATH) === true) {
      answerAcmeChallenge(res, req.url.slice(ACME_CHALLENGE_PATH.length), isHead);
      return;
    }
    // other methods can only mean something to a deployment's server: see serveFile
    const staticOnly = method !== 'GET' && !isHead;
    if (staticOnly && servers === undefined) {
      sendPage(res, 405, METHOD_NOT_ALLOWED_PAGE, false, ['Allow', 'GET, HEAD']);
      return;
    }

    // read the few headers we need straight from rawHeaders: building req.headers costs more
    let host: string | undefined;
    let acceptEncoding: string | undefined;
    let ifNoneMatch: string | undefined;
    let range: string | undefined;
    let ifRange: string | undefined;
    let authority: string | undefined;
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i] as string;
      switch (name.length) {
        case 4:
          if (host === undefined && (name === 'Host' || name.toLowerCase() === 'host')) host = raw[i + 1];
          break;
        case 5:
          if (name === 'Range' || name.toLowerCase() === 'range') range = raw[i + 1];
          break;
        case 8:
          if (name === 'If-Range' || name.toLowerCase() === 'if-range') ifRange = raw[i + 1];
          break;
        case 10:
          // HTTP/2 names the host in the :authority pseudo-header (a Host header, if sent, comes first)
          if (authority === undefined && name === ':authority') authority = raw[i + 1];
          break;
        case 13:
          if (name === 'If-None-Match' || name.toLowerCase() === 'if-none-match') ifNoneMatch = raw[i + 1];
          break;
        case 15:
          if (name === 'Accept-Encoding' || name.toLowerCase() === 'accept-encoding') acceptEncoding = raw[i + 1];
          break;
      }
    }
    host ??= authority;
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
        if (secure && route.settings?.hsts !== undefined) res.setHeader('Strict-Transport-Security', route.settings.hsts);
        if (hasRules(route.site)) serveByRules(req, res, route.site, route.settings, path, target, host, isHead, staticOnly, secure, acceptEncoding, ifNoneMatch, range, ifRange);
        else if (staticOnly || (route.site.server !== undefined && !route.site.files.has(path))) toServer(req, res, route.site, isHead, secure);
        else serveFile(res, route.site, path, isHead, acceptEncoding, ifNoneMatch, range, ifRange);
        return;
      }
      if (route.settings?.redirect !== undefined) {
        redirectHost(res, route.settings.redirect, scheme, target, isHead);
        return;
      }
      if (route.pending === undefined && route.expires > Date.now()) {
        sendPage(res, 404, unknownHostPage(host), isHead);
        return;
      }
    }
    const hostHeader = host;
    routes.resolve(hostHeader).then(
      (resolved) => {
        if (secure && resolved.site !== undefined && resolved.settings?.hsts !== undefined) res.setHeader('Strict-Transport-Security', resolved.settings.hsts);
        if (resolved.site === undefined && resolved.settings?.redirect !== undefined) redirectHost(res, resolved.settings.redirect, scheme, target, isHead);
        else if (resolved.site === undefined) sendPage(res, 404, unknownHostPage(hostHeader), isHead);
        else if (hasRules(resolved.site)) serveByRules(req, res, resolved.site, resolved.settings, path, target, hostHeader, isHead, staticOnly, secure, acceptEncoding, ifNoneMatch, range, ifRange);
        else if (staticOnly || (resolved.site.server !== undefined && !resolved.site.files.has(path))) toServer(req, res, resolved.site, isHead, secure);
        else serveFile(res, resolved.site, path, isHead, acceptEncoding, ifNoneMatch, range, ifRange);
      },
      (error: unknown) => {
        if (error instanceof BadHostError) sendPage(res, 400, BAD_REQUEST_PAGE, isHead);
        else if (error instanceof LookupError) fail(res, 502, `could not resolve host ${JSON.stringify(hostHeader)}`, error.cause, isHead);
        else fail(res, 500, `could not load the deployment for host ${JSON.stringify(hostHeader)}`, error, isHead);
      },
    ).catch((error: unknown) => fail(res, 500, `request for ${target} failed`, error, isHead)); // never an unhandled rejection
  }

  /** A redirect domain: the same path and query on the host it redirects to, whatever the method. */
  function redirectHost(res: ServerResponse, redirect: HostRedirect, scheme: 'http' | 'https', target: string, isHead: boolean): void {
    const location = `${scheme}://${redirect.to}${target}`;
    const body = Buffer.from(`Redirecting to ${location}\n`);
    res.writeHead(redirect.status, ['Location', location, 'Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(body.length), 'Cache-Control', 'no-store']);
    if (isHead) res.end();
    else res.end(body);
  }

  /** A site with its own redirects, rewrites and headers: see ./site-rules.ts. */
  function serveByRules(req: IncomingMessage, res: ServerResponse, site: Site & { rules: NonNullable<Site['rules']> }, settings: HostSettings | undefined, path: string, target: string, host: string, isHead: boolean, staticOnly: boolean, secure: boolean, acceptEncoding: string | undefined, ifNoneMatch: string | undefined, range: string | undefined, ifRange: string | undefined): void {
    const answers = { file: (view: Site, at: string) => serveFile(res, view, at, isHead, acceptEncoding, ifNoneMatch, range, ifRange), server: (view: Site) => toServer(req, res, view, isHead, secure) };
    serveWithRules({ req, res, site, settings, path, target, host, isHead, staticOnly, secure }, answers, { proxy: opts.externalProxy, report });
  }

  /** Proxy to the deployment's server (started on demand); a static-only deployment answers 405. */
  function toServer(req: IncomingMessage, res: ServerResponse, site: Site, isHead: boolean, secure: boolean): void {
    if (site.server === undefined || servers === undefined) {
      sendPage(res, 405, METHOD_NOT_ALLOWED_PAGE, false, ['Allow', 'GET, HEAD', 'x-slipway-deployment', site.deploymentId]);
      return;
    }
    const gateway = servers;
    const clientIp = req.socket.remoteAddress ?? '';
    // which version answered, as on static responses (merged into the server's own headers)
    res.setHeader('x-slipway-deployment', site.deploymentId);
    gateway.ensure(site.deploymentId, site.server).then(
      (target) => gateway.proxy(req, res, site.deploymentId, target, { proto: secure ? 'https' : 'http', clientIp }),
      (error: unknown) => fail(res, 502, `the server of deployment ${site.deploymentId} did not start`, error, isHead),
    ).catch((error: unknown) => fail(res, 502, `proxying to deployment ${site.deploymentId} failed`, error, isHead));
  }

  function serveFile(
    res: ServerResponse,
    site: Site,
    path: string,
    isHead: boolean,
    acceptEncoding: string | undefined,
    ifNoneMatch: string | undefined,
    range: string | undefined,
    ifRange: string | undefined,
  ): void {
    const file = site.files.get(path);
    if (file === undefined) {
      serveNotFound(res, site, isHead, acceptEncoding);
      return;
    }
    // a Range is always served from the identity bytes; otherwise br > gzip > identity
    const rep = range === undefined ? negotiate(file, acceptEncoding) : file.identity;
    if (ifNoneMatch !== undefined && etagMatches(ifNoneMatch, rep.etag)) {
      res.writeHead(304, rep.notModifiedHeaders as string[]);
      res.end();
      return;
    }
    if (range !== undefined && (ifRange === undefined || ifRange === rep.etag)) {
      const wanted = parseRange(range, rep.size);
      if (wanted === UNSATISFIABLE) {
        res.writeHead(416, ['Content-Range', `bytes */${rep.size}`, 'Content-Length', '0', 'Cache-Control', 'no-store', 'x-slipway-deployment', site.deploymentId]);
        res.end();
        return;
      }
      if (wanted !== IGNORE_RANGE) {
        const headers = [...file.partialHeaders, 'Content-Range', `bytes ${wanted.start}-${wanted.end}/${rep.size}`, 'Content-Length', String(wanted.end - wanted.start + 1)];
        send(res, 206, headers, rep, wanted, isHead, site, file.key);
        return;
      }
    }
    send(res, 200, rep.fullHeaders, rep, undefined, isHead, site, file.key);
  }

  function serveNotFound(res: ServerResponse, site: Site, isHead: boolean, acceptEncoding: string | undefined): void {
    if (site.notFound === undefined) {
      sendPage(res, 404, NOT_FOUND_PAGE, isHead, ['x-slipway-deployment', site.deploymentId]);
      return;
    }
    const rep = negotiate(site.notFound, acceptEncoding);
    send(res, 404, rep.fullHeaders, rep, undefined, isHead, site, site.notFound.key);
  }

  function negotiate(file: SiteFile, acceptEncoding: string | undefined): Representation {
    if (file.br === undefined && file.gzip === undefined) return file.identity;
    const accepted = acceptedEncodings(acceptEncoding);
    if (file.br !== undefined && (accepted & ACCEPT_BR) !== 0) return file.br;
    if (file.gzip !== undefined && (accepted & ACCEPT_GZIP) !== 0) return file.gzip;
    return file.identity;
  }

  // ---- bytes ----

  /**
   * Send a representation (or a range of it) of the site's file `key`: from memory when cached,
   * else load or stream it. Bytes in memory were verified against the hash when they were loaded
   * (see BlobReader); those that do not match are never sent: the answer is a 500 page.
   */
  function send(res: ServerResponse, status: number, headers: readonly string[], rep: Representation, range: ByteRange | undefined, isHead: boolean, site: Site, key: string): void {
    if (isHead) {
      res.writeHead(status, headers as string[]);
      res.end();
      return;
    }
    let slot = rep.slot;
    if (slot === undefined || slot.bytes === undefined) {
      slot = cache.get(rep.hash); // another deployment or representation may share the blob
      rep.slot = slot;
    } else cache.touch(slot);
    const bytes = slot?.bytes;
    if (bytes !== undefined) {
      // the pre-serialised head is HTTP/1.1 and holds none of the headers set on res (HSTS)
      if (range === undefined && rawResponses && status === rep.status && res instanceof ServerResponse && !res.hasHeader('strict-transport-security')) {
        const second = Math.floor(Date.now() / 1000);
        let raw = rep.raw;
        if (raw === undefined || raw.second !== second) {
          raw = buildRawResponse(rep.status, headers, bytes, second, Math.floor(server.keepAliveTimeout / 1000));
          rep.raw = raw;
        }
        if (writeRaw(res, status, raw, bytes)) return;
      }
      res.writeHead(status, headers as string[]);
      res.end(range === undefined ? bytes : bytes.subarray(range.start, range.end + 1));
      return;
    }
    if (rep.size > streamThreshold) {
      streamBlob(res, status, headers, rep, range, site, key);
      return;
    }
    reader.load(rep, site.deploymentId, key).then(
      (loaded) => {
        res.writeHead(status, headers as string[]);
        res.end(range === undefined ? loaded : loaded.subarray(range.start, range.end + 1));
      },
      (error: unknown) => fail(res, 500, `could not read ${key} (blob ${rep.hash}) of deployment ${site.deploymentId}`, error, false),
    ).catch((error: unknown) => fail(res, 500, `sending blob ${rep.hash} failed`, error, false));
  }

  function streamBlob(res: ServerResponse, status: number, headers: readonly string[], rep: Representation, range: ByteRange | undefined, site: Site, key: string): void {
    const wanted = range ?? { start: 0, end: rep.size - 1 };
    if (wanted.end < wanted.start) {
      res.writeHead(status, headers as string[]);
      res.end();
      return;
    }
    reader.open(rep, site.deploymentId, key, wanted).then(
      (stream) => {
        res.writeHead(status, headers as string[]);
        pipeline(stream, res, (error) => {
          // a client that goes away mid-download is normal; anything else is worth a line
          if (error !== undefined && error !== null && (error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') {
            report(`streaming blob ${rep.hash} failed`, error);
          }
        });
      },
    ).catch((error: unknown) => fail(res, 500, `could not stream ${key} (blob ${rep.hash}) of deployment ${site.deploymentId}`, error, false));
  }

  // ---- server and alias polling ----

  const server = createServer(onRequest);
  server.on('upgrade', upgradeHandler(routes, servers, report));
  const https = opts.tls === undefined ? undefined : createHttpsEdge(opts.tls, { request: (req, res) => onRequest(req as unknown as IncomingMessage, res as unknown as ServerResponse, true), upgrade: upgradeHandler(routes, servers, report, 'https') }, report);
  // idle keep-alive connections live as long as nginx's default (75 s), so clients reuse them
  server.keepAliveTimeout = 75_000;
  server.headersTimeout = 80_000;

  let lastGeneration: number | undefined;
  let polling = false;
  const poll = async (): Promise<void> => {
    if (polling) return;
    polling = true;
    try {
      const generation = await lookup.aliasGeneration();
      // the first answer invalidates too: routes cached before it may predate a move
      if (generation !== lastGeneration) {
        const first = lastGeneration === undefined;
        lastGeneration = generation;
        if (first) invalidate();
        else await routes.refresh();
      }
    } catch (error) {
      report('polling the alias generation failed; cached routes stay until it works again', error);
    } finally {
      polling = false;
    }
  };
  const timer = setInterval(() => void poll(), pollMs);
  timer.unref();

  async function close(): Promise<void> {
    clearInterval(timer);
    routes.close();
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

  return { server, https, invalidate, refresh: () => routes.refresh(), close };
}
