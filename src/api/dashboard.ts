import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors/index.js';

/** where `npm run build:dashboard` (run by `prepare`) writes the single-page app: dist/dashboard */
export const DASHBOARD_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dashboard');

/** paths the dashboard never answers, so a typo under them stays the API's JSON 404 */
const API_PREFIXES = ['/api/', '/hooks/'];
const API_EXACT = new Set(['/api', '/hooks', '/healthz']);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.txt']);

interface Asset {
  type: string;
  etag: string;
  raw: Buffer;
  gzip?: Buffer;
  br?: Buffer;
  /** built by vite with a content hash in its name (under assets/): cacheable forever */
  immutable: boolean;
}

/**
 * Load every built file once, compressed ahead of time (the whole app is a few hundred KB), so a
 * request is a map look-up and the first load costs no CPU for compression.
 */
export function loadDashboard(dir = DASHBOARD_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(join(dir, 'index.html'))) return assets;
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) {
        walk(path);
        continue;
      }
      const url = `/${relative(dir, path).split(sep).join('/')}`;
      const ext = extname(name);
      const raw = readFileSync(path);
      const asset: Asset = {
        type: TYPES[ext] ?? 'application/octet-stream',
        etag: `"${createHash('sha256').update(raw).digest('base64url').slice(0, 22)}"`,
        raw,
        immutable: url.startsWith('/assets/'),
      };
      if (COMPRESSIBLE.has(ext) && raw.length > 512) {
        asset.gzip = gzipSync(raw, { level: 9 });
        asset.br = brotliCompressSync(raw, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: raw.length } });
      }
      assets.set(url, asset);
    }
  };
  walk(dir);
  return assets;
}

/**
 * Serve the dashboard at `/`: hashed files under /assets/ with immutable caching, index.html
 * revalidated every time (so a new release is picked up at once), and index.html for any other
 * GET that looks like a page of the app (client-side routes such as /p/site). /api/, /hooks/ and
 * /healthz are never shadowed: an unknown path there stays the API's JSON 404.
 */
export function registerDashboard(app: FastifyInstance, assets = loadDashboard()): void {
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const path = (req.url.split('?')[0] ?? '/').replace(/\/{2,}/g, '/');
    if (API_EXACT.has(path) || API_PREFIXES.some((p) => path.startsWith(p))) {
      throw new AppError('NOT_FOUND', `No route ${req.method} ${path}.`);
    }
    const index = assets.get('/index.html');
    if (index === undefined) {
      return reply
        .code(503)
        .header('cache-control', 'no-store')
        .type('text/html; charset=utf-8')
        .send(
          '<!doctype html><title>Slipway</title><p>The dashboard is not built. Run <code>npm run build:dashboard</code> (npm install does it) and restart Slipway. The API is at <a href="/api/v1/projects">/api/v1</a>.</p>',
        );
    }
    let asset = assets.get(path);
    if (asset === undefined || path === '/index.html') {
      // a missing hashed file is a real 404 (an old tab asking for a previous release's chunk), not the app
      if (path.startsWith('/assets/') || extname(path) !== '') throw new AppError('NOT_FOUND', `No file ${path}.`);
      asset = index;
    }
    void reply.header('content-type', asset.type).header('etag', asset.etag).header('vary', 'accept-encoding').header('x-content-type-options', 'nosniff');
    void reply.header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    if (asset === index) void reply.header('x-frame-options', 'DENY').header('referrer-policy', 'same-origin');
    if (req.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    const accept = String(req.headers['accept-encoding'] ?? '');
    if (asset.br !== undefined && /\bbr\b/.test(accept)) return reply.header('content-encoding', 'br').send(asset.br);
    if (asset.gzip !== undefined && /\bgzip\b/.test(accept)) return reply.header('content-encoding', 'gzip').send(asset.gzip);
    return reply.send(asset.raw);
  };
  // public: the app itself holds no data; everything it shows comes from /api/v1 with the caller's rights
  // not part of the API: left out of GET /api/v1/openapi.json (see UNDOCUMENTED in openapi.ts)
  const options = { config: { access: { public: true as const } } };
  app.get('/', options, handler);
  app.get('/*', options, handler);
}
