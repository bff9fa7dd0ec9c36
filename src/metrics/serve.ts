import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { AppError } from '../errors/index.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const TOKEN_HINT = 'Send Authorization: Bearer <the --metrics-token / SLIPWAY_METRICS_TOKEN value>, e.g. in prometheus.yml: authorization: { credentials: <token> }';

/**
 * Whether an Authorization header carries the metrics token. Both sides are hashed first so
 * the comparison is constant-time whatever their lengths.
 */
export function metricsTokenMatches(authorization: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
  if (m === null) return false;
  const given = createHash('sha256').update(m[1]!.trim()).digest();
  const wanted = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, wanted);
}

/** The error for a scrape without the right token, or when no token is configured (metrics are off). */
export function metricsRefusal(authorization: string | undefined, token: string | undefined): AppError | undefined {
  if (token === undefined) return new AppError('NOT_FOUND', 'Metrics are off on this process.', { hint: 'Start Slipway with --metrics-token <secret> (SLIPWAY_METRICS_TOKEN) to serve GET /metrics.' });
  if (!metricsTokenMatches(authorization, token)) return new AppError('UNAUTHORIZED', 'GET /metrics needs the metrics token.', { hint: TOKEN_HINT });
  return undefined;
}

/**
 * A listener of its own for /metrics (--metrics-port): the way to scrape a process without
 * the api role (worker-only, edge-only), without putting metrics on the sites' port.
 */
export function createMetricsServer(token: string | undefined, text: () => Promise<string>): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (path !== '/metrics') {
      send(404, 'application/json', JSON.stringify({ error: new AppError('NOT_FOUND', `No route ${req.method} ${path}; this port serves GET /metrics.`).toJSON() }));
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(405, 'application/json', JSON.stringify({ error: new AppError('METHOD_NOT_ALLOWED', 'This port serves GET /metrics.').toJSON() }));
      return;
    }
    const refusal = metricsRefusal(req.headers.authorization, token);
    if (refusal !== undefined) {
      res.setHeader('www-authenticate', 'Bearer realm="slipway-metrics"');
      send(refusal.status, 'application/json', JSON.stringify({ error: refusal.toJSON() }));
      return;
    }
    text().then(
      (body) => send(200, METRICS_CONTENT_TYPE, body),
      () => send(500, 'application/json', JSON.stringify({ error: new AppError('INTERNAL', 'Collecting the metrics failed; the error is in the server log.').toJSON() })),
    );
  });
}
