import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestObserver } from '../access-log/index.js';
import { type ExternalProxyOptions, proxyExternal } from './external-proxy.js';
import { functionUnreachablePage } from './pages.js';
import { splitAbsoluteTarget } from './path.js';
import type { Site } from './site.js';
import type { FunctionOrigin } from './types.js';

/*
 * An AWS Next.js preview on Slipway's edge: the deployment's static files come from its manifest
 * as for any deployment, and everything else (any method, path, query and body) goes to the
 * Function URL of its Lambda alias, streamed back as the function answers. The URL comes from
 * the deployment's AWS record, written by Slipway when it made the alias, and is checked again
 * here: only https, only a Function URL host, so nothing a repository controls is ever dialled.
 */

/** `<url-id>.lambda-url.<region>.on.aws`: the only hosts AWS gives Function URLs. */
const FUNCTION_URL_HOST = /^[a-z0-9]{1,64}\.lambda-url\.[a-z]{2}(-[a-z]+)+-\d\.on\.aws$/;

/** The origin, or why the edge will not proxy to it. */
export function checkFunctionOrigin(origin: FunctionOrigin): { url: URL; via: URL | undefined } | string {
  let url: URL;
  try {
    url = new URL(origin.url);
  } catch {
    return `${JSON.stringify(origin.url)} is not a URL`;
  }
  if (url.protocol !== 'https:') return `${url.protocol}// is not https`;
  if (!FUNCTION_URL_HOST.test(url.hostname) || url.port !== '' || url.username !== '' || url.password !== '') return `${url.host} is not a Lambda Function URL`;
  if (origin.via === undefined) return { url, via: undefined };
  try {
    const via = new URL(origin.via);
    if (via.protocol !== 'https:' && via.protocol !== 'http:') return `the AWS endpoint ${origin.via} is not http(s)`;
    return { url, via };
  } catch {
    return `the AWS endpoint ${JSON.stringify(origin.via)} is not a URL`;
  }
}

export interface FunctionProxyOptions extends Pick<ExternalProxyOptions, 'allowAddress' | 'ca' | 'responseTimeoutMs' | 'idleTimeoutMs'> {
  proto: 'http' | 'https';
  /** the host the visitor asked for: sent as x-forwarded-host, which OpenNext takes as the request's host */
  host: string;
  /** the request target (path and query) */
  target: string;
  report: (message: string, error?: unknown) => void;
  /** nothing was sent yet and the function cannot answer (unreachable, TLS, no head in time): the edge's 502 page */
  unreachable: (reason: string) => void;
}

/**
 * Proxy one request to the deployment's Function URL (Host: the URL's host, as Lambda routes
 * by it); its answer gets `x-slipway-deployment`. Resolves when done, never rejects.
 */
export async function proxyToFunction(req: IncomingMessage, res: ServerResponse, deploymentId: string, origin: FunctionOrigin, opts: FunctionProxyOptions): Promise<void> {
  const checked = checkFunctionOrigin(origin);
  if (typeof checked === 'string') {
    opts.unreachable(`the recorded origin is refused: ${checked}`);
    return;
  }
  // appended to the origin, never resolved against it: a target of `//other.host/` stays a path
  const url = new URL(`${checked.url.origin}${opts.target.startsWith('/') ? opts.target : `/${opts.target}`}`);
  await proxyExternal(req, res, url, ['x-slipway-deployment', deploymentId], (refusal) => opts.unreachable(refusal.reason), {
    proto: opts.proto,
    host: opts.host,
    report: opts.report,
    // a cold start of a Next.js server function takes seconds; past this the visitor gets the 502 page
    responseTimeoutMs: opts.responseTimeoutMs ?? 30_000,
    idleTimeoutMs: opts.idleTimeoutMs ?? 60_000,
    ...(opts.allowAddress === undefined ? {} : { allowAddress: opts.allowAddress }),
    ...(opts.ca === undefined ? {} : { ca: opts.ca }),
    ...(checked.via === undefined ? {} : { connect: checked.via }),
  });
}

/**
 * The edge's answer for a request its AWS preview's files do not have: proxied to the function,
 * or the 502 page naming the deployment when the function cannot be reached (never a hang:
 * no answer head in 30 s, or no bytes for 60 s, ends it).
 */
export function createFunctionAnswer(deps: {
  observer: RequestObserver | undefined;
  sendPage: (res: ServerResponse, status: number, body: Buffer, isHead: boolean, extra?: string[]) => void;
  report: (message: string, error?: unknown) => void;
  options: Pick<ExternalProxyOptions, 'ca' | 'responseTimeoutMs' | 'idleTimeoutMs'> | undefined;
}): (req: IncomingMessage, res: ServerResponse, site: Site, origin: FunctionOrigin, isHead: boolean, secure: boolean) => void {
  return (req, res, site, origin, isHead, secure) => {
    deps.observer?.cache(res, 'server');
    const raw = req.url ?? '/';
    const target = raw.charCodeAt(0) === 47 /* / */ ? raw : (splitAbsoluteTarget(raw)?.path ?? '/');
    // HTTP/2 carries the visitor's host as :authority
    const host = req.headers.host ?? String(req.headers[':authority'] ?? '');
    const unreachable = (reason: string) => {
      deps.report(`the function of deployment ${site.deploymentId} did not answer: ${reason}`);
      if (res.headersSent) res.destroy();
      else deps.sendPage(res, 502, functionUnreachablePage(site.deploymentId), isHead, ['x-slipway-deployment', site.deploymentId]);
    };
    void proxyToFunction(req, res, site.deploymentId, origin, { proto: secure ? 'https' : 'http', host, target, report: deps.report, unreachable, ...deps.options });
  };
}
