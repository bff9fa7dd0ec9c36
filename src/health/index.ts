import { createServer, type Server } from 'node:http';
import { sql } from 'kysely';
import { toError } from '../errors/index.js';
import type { Store } from '../store/index.js';

/** What /readyz says: ready only when every check is 'ok'; a failed check carries its reason. */
export interface Readiness {
  ready: boolean;
  checks: Record<string, string>;
}

/** One round trip to the store, bounded: a database that hangs is as unreachable as one that refuses. */
export async function checkStore(store: Store, timeoutMs = 2000): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    await Promise.race([sql`select 1`.execute(store.db), timeout]);
    return 'ok';
  } catch (error) {
    return `the store is unreachable: ${toError(error).message}`;
  } finally {
    clearTimeout(timer);
  }
}

export function readiness(checks: Record<string, string>): Readiness {
  return { ready: Object.values(checks).every((c) => c === 'ok'), checks };
}

/**
 * A small HTTP listener for a process a load balancer or supervisor watches without the api
 * (`--health-port`): GET /healthz is 200 while the process runs, GET /readyz 200 when its
 * checks pass (503 with the failing ones otherwise). Nothing else is answered.
 */
export async function startHealthListener(opts: {
  port: number;
  host: string;
  health: () => Promise<Record<string, unknown>>;
  ready: () => Promise<Readiness>;
}): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const send = (status: number, body: unknown) => {
      const text = `${JSON.stringify(body)}\n`;
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { error: 'only GET /healthz and GET /readyz' });
    if (path === '/healthz') {
      opts.health().then(
        (roles) => send(200, { status: 'ok', roles }),
        (error: unknown) => send(500, { status: 'error', message: toError(error).message }),
      );
      return;
    }
    if (path === '/readyz') {
      opts.ready().then(
        (r) => send(r.ready ? 200 : 503, { status: r.ready ? 'ok' : 'not ready', checks: r.checks }),
        (error: unknown) => send(503, { status: 'not ready', checks: { process: toError(error).message } }),
      );
      return;
    }
    send(404, { error: 'only GET /healthz and GET /readyz' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : opts.port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
