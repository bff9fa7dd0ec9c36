/**
 * Server-rendered deployments, with the Next.js fixture built for real (npm ci + next build with
 * standalone output): cold start through the edge + runtime vs bare `node server.js` to the
 * first 200, and requests/second of an SSR route through the edge vs the same server hit
 * directly, with wrk. Set SLIPWAY_BENCH_NEXT_DIR to a built copy of test/fixtures/next-app to
 * skip the build.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEdgeServer, createMemoryLookup } from '../src/edge/index.js';
import { createRuntimeGateway } from '../src/runtime/index.js';
import { buildNextSite } from './next-site.js';
import { wrk as wrkLoad, wrkHost } from './load-tools.js';
import { median, ms } from './stats.js';

const HOST = 'ssr.localhost';
const RUNS = Number(process.env.SLIPWAY_BENCH_RUNS ?? 5);
const SECONDS = Number(process.env.SLIPWAY_BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.SLIPWAY_BENCH_ROUNDS ?? 3);

/** the status of one GET through the edge on 127.0.0.1:<port> with this Host (0: no answer) */
export function status(port: number, path: string, host = HOST): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

async function firstOk(port: number, path: string): Promise<void> {
  while ((await status(port, path)) !== 200) await new Promise((r) => setTimeout(r, 5));
}

const wrk = (port: number, path: string) => wrkHost(port, path, HOST, SECONDS);

export async function run() {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-ssr-'));
  try {
    const { standalone, blobs, bundle, pkg } = await buildNextSite(dir);

    const lookup = createMemoryLookup({});
    const { gateway, runtime } = createRuntimeGateway(blobs, dir, { memoryMb: 0, requestTimeoutMs: 60_000, idleMs: 15 * 60_000 });
    const edge = createEdgeServer({ lookup, blobs, servers: gateway });
    await new Promise<void>((resolve) => edge.server.listen(0, '127.0.0.1', resolve));
    const edgePort = (edge.server.address() as AddressInfo).port;
    try {
      // cold start: bare node server.js vs a scaled-to-zero deployment's first request through the edge
      const bare: number[] = [];
      const cold: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const port = 21_000 + i;
        let t = performance.now();
        const child = spawn(process.execPath, ['server.js'], { cwd: standalone, env: { PORT: String(port), HOSTNAME: '127.0.0.1', NODE_ENV: 'production' }, stdio: 'ignore' });
        await firstOk(port, '/ssr');
        bare.push(performance.now() - t);
        child.kill();
        await new Promise((r) => child.once('exit', r));

        // a preview host nobody has visited: its server is not running (scaled to zero)
        const id = `dcold${i}`;
        const host = `${id}--${HOST}`;
        lookup.set(host, { deploymentId: id, manifestHash: pkg.manifestHash });
        await runtime.materialize(id, bundle); // done at deploy time, not on the request path
        t = performance.now();
        const code = await status(edgePort, '/ssr', host);
        if (code !== 200) throw new Error(`cold request answered ${code}`);
        cold.push(performance.now() - t);
        await runtime.drain(id, 0);
      }

      // proxy overhead: the same warm server, direct and through the edge
      lookup.set(HOST, { deploymentId: 'dwarm', manifestHash: pkg.manifestHash });
      await firstOk(edgePort, '/api/hello');
      const warm = runtime.status().find((s) => s.deploymentId === 'dwarm');
      if (warm?.port === undefined) throw new Error('the warm server is not running');
      const direct = { port: warm.port, address: warm.host ?? '127.0.0.1' };
      // direct and through-the-edge runs alternate, so drift on this shared machine hits both alike
      const overhead: Record<string, string | number>[] = [];
      for (const path of ['/ssr', '/api/hello']) {
        const directRuns: { requestsPerSec: number; p99Ms: number }[] = [];
        const edgeRuns: { requestsPerSec: number; p99Ms: number }[] = [];
        for (let round = 0; round < ROUNDS; round++) {
          directRuns.push(await wrkLoad({ ...direct, path, host: HOST, seconds: SECONDS }));
          edgeRuns.push(await wrk(edgePort, path));
        }
        const rps = (runs: { requestsPerSec: number }[]) => median(runs.map((r) => r.requestsPerSec));
        const p99 = (runs: { p99Ms: number }[]) => median(runs.map((r) => r.p99Ms));
        overhead.push(
          { measure: `${path} direct to the server (wrk -c50 ${SECONDS}s, median of ${ROUNDS})`, 'req/s': Math.round(rps(directRuns)), 'p99 ms': p99(directRuns) },
          {
            measure: `${path} through the edge (rounds: ${edgeRuns.map((r, i) => (r.requestsPerSec / directRuns[i]!.requestsPerSec).toFixed(2)).join(', ')})`,
            'req/s': Math.round(rps(edgeRuns)),
            'p99 ms': p99(edgeRuns),
            ratio: rps(edgeRuns) / rps(directRuns),
          },
        );
      }
      const b = median(bare);
      const c = median(cold);
      return {
        title: `Server-rendered (Next.js ${bundle.files['server.js'] === undefined ? '' : 'standalone'}): cold start and proxy overhead`,
        rows: [
          { measure: `cold start to first 200 of /ssr, bare node server.js (median of ${RUNS})`, ms: ms(b) },
          { measure: 'cold start through edge + runtime (scaled to zero)', ms: ms(c), ratio: c / b },
          ...overhead,
        ],
        notes: ['targets: cold start ratio <= 1.2; through the edge >= 0.85 of direct', "the edge runs in this process (one core's worth); wrk and the Next.js server share the other"],
      };
    } finally {
      await edge.close();
      await runtime.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
