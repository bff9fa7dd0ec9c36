import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { FastifyInstance } from 'fastify';

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/** answers smaller than this go as they are: compressing them saves less than it costs */
export const COMPRESS_MIN_BYTES = 1024;

/**
 * Compress JSON answers larger than COMPRESS_MIN_BYTES with br or gzip, as the client's
 * Accept-Encoding allows (br first: smaller at a quality that costs about what gzip does).
 * Streams (server-sent events are hijacked and never get here), answers that already carry a
 * Content-Encoding (the dashboard's precompressed files) and other types are left alone.
 */
export function compressJson(app: FastifyInstance): void {
  app.addHook('onSend', async (req, reply, payload) => {
    if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload;
    if (reply.hasHeader('content-encoding')) return payload;
    const type = String(reply.getHeader('content-type') ?? '');
    if (!type.startsWith('application/json')) return payload;
    // the answer depends on Accept-Encoding whether or not this one is compressed
    void reply.header('vary', 'accept-encoding');
    const size = Buffer.byteLength(payload);
    if (size < COMPRESS_MIN_BYTES) return payload;
    const encoding = pick(String(req.headers['accept-encoding'] ?? ''));
    if (encoding === undefined) return payload;
    const body = encoding === 'br' ? await brotli(payload, { params: { [constants.BROTLI_PARAM_QUALITY]: 4, [constants.BROTLI_PARAM_SIZE_HINT]: size } }) : await gzipAsync(payload, { level: 6 });
    void reply.header('content-encoding', encoding).removeHeader('content-length');
    return body;
  });
}

/** br or gzip if the header accepts it (q=0 refuses); nothing else is offered */
function pick(accept: string): 'br' | 'gzip' | undefined {
  const offered = new Map<string, number>();
  for (const part of accept.toLowerCase().split(',')) {
    const [name, ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    offered.set(name!.trim(), q === undefined ? 1 : Number(q.slice(2)) || 0);
  }
  const ok = (name: string) => (offered.get(name) ?? offered.get('*') ?? 0) > 0;
  if (ok('br')) return 'br';
  if (ok('gzip')) return 'gzip';
  return undefined;
}
