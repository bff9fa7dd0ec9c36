/**
 * The server half of the sandbox bench (see ./sandbox.ts): one edge in this process in front of
 * two Runtimes alike in everything but `sandbox`; a deployment id says which one runs it. Cold
 * start: a scaled-to-zero deployment's first request for /ssr through the edge. Proxy: wrk
 * through the edge to a warm server, sandboxed (reached over the veth) vs not (loopback).
 */
import { cp, mkdir, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { packageOutput, packageServer } from '../src/artifact/index.js';
import { LocalBlobStore } from '../src/blobs/index.js';
import type { BuildResult } from '../src/build/index.js';
import { createEdgeServer, createMemoryLookup } from '../src/edge/index.js';
import type { ServerGateway } from '../src/edge/types.js';
import type { ServerBundle } from '../src/manifest/index.js';
import { Runtime } from '../src/runtime/index.js';
import { packageScript } from '../test/runtime/helpers.js';
import { wrkHost, type WrkResult } from './load-tools.js';
import { status } from './ssr.js';
import { median } from './stats.js';

export type Side = 'none' | 'sandbox';
export type Row = Record<string, string | number>;

/** round i's order: A B, B A, A B ... */
export function sidesOfRound(i: number): Side[] {
  return i % 2 === 0 ? ['none', 'sandbox'] : ['sandbox', 'none'];
}

/** the built Next.js fixture: a runBuild result (unsandboxed), or a folder built by hand with standalone output */
export type NextApp = { kind: 'build'; build: BuildResult } | { kind: 'dir'; dir: string };

const COLD_RUNS = Number(process.env.SLIPWAY_BENCH_RUNS ?? 5);
const ROUNDS = Number(process.env.SLIPWAY_BENCH_ROUNDS ?? 3);
const SECONDS = Math.min(5, Number(process.env.SLIPWAY_BENCH_SECONDS ?? 5));
const DOMAIN = 'bench.localhost';

/** answers every request with the same small JSON: what is left to measure is the proxy path */
const PLAIN_SERVER = `import { createServer } from 'node:http';
const body = JSON.stringify({ hello: 'world' });
createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}).listen(Number(process.env.PORT), process.env.HOST);
`;

export async function measureServers(dir: string, next: NextApp): Promise<{ rows: Row[]; notes: string[] }> {
  const blobs = new LocalBlobStore(join(dir, 'blobs'));
  const nextSite = await packageNext(dir, blobs, next);
  const plainSite = await site(dir, blobs, await packageScript(dir, blobs, 'plain', PLAIN_SERVER), 'plain-static');

  const runtimes: Record<Side, Runtime> = { none: makeRuntime(dir, blobs, 'none'), sandbox: makeRuntime(dir, blobs, 'sandbox') };
  const sideOf = new Map<string, Side>();
  const lookup = createMemoryLookup({});
  const edge = createEdgeServer({ lookup, blobs, servers: gatewayOver(runtimes, sideOf), log: logFailures('edge') });
  /** a deployment of `manifestHash` run by `side`'s runtime, under its own host */
  const deploy = (id: string, side: Side, manifestHash: string): string => {
    sideOf.set(id, side);
    const host = `${id}--${DOMAIN}`;
    lookup.set(host, { deploymentId: id, manifestHash });
    return host;
  };
  await new Promise<void>((resolve) => edge.server.listen(0, '127.0.0.1', resolve));
  const port = (edge.server.address() as AddressInfo).port;
  try {
    // cold start; one untimed start per side first, so neither pays for this process's first one
    const cold: Record<Side, number[]> = { none: [], sandbox: [] };
    for (let i = -1; i < COLD_RUNS; i++) {
      for (const side of sidesOfRound(Math.max(i, 0))) {
        const id = `${side}-cold-${i + 1}`;
        const host = deploy(id, side, nextSite.manifestHash);
        await runtimes[side].materialize(id, nextSite.bundle); // done at deploy time, not on the request path
        const t = performance.now();
        const code = await status(port, '/ssr', host);
        const took = performance.now() - t;
        if (code !== 200) throw new Error(`the cold ${side === 'sandbox' ? 'sandboxed ' : ''}request for /ssr answered ${code}`);
        if (i >= 0) cold[side].push(took);
        await runtimes[side].drain(id, 0);
      }
    }
    const rows: Row[] = [compare(`SSR cold start to the first 200 of /ssr through the edge, ms (median of ${COLD_RUNS})`, cold, '<= 1.1', (n) => Math.round(n))];

    // proxy: warm servers, one per side and route
    for (const [name, label, siteOf, path] of [
      ['next', 'Next.js route handler', nextSite, '/api/hello'],
      ['plain', 'plain node server', plainSite, '/'],
    ] as const) {
      const hosts = { none: deploy(`none-warm-${name}`, 'none', siteOf.manifestHash), sandbox: deploy(`sandbox-warm-${name}`, 'sandbox', siteOf.manifestHash) };
      for (const side of ['none', 'sandbox'] as const) {
        const code = await status(port, path, hosts[side]);
        if (code !== 200) throw new Error(`${label} ${path} (${side}) answered ${code}`);
      }
      const runs: Record<Side, WrkResult[]> = { none: [], sandbox: [] };
      for (let i = 0; i < ROUNDS; i++) for (const side of sidesOfRound(i)) runs[side].push(await wrk(port, path, hosts[side]));
      const rps = (side: Side) => runs[side].map((r) => r.requestsPerSec);
      const p99 = (side: Side) => runs[side].map((r) => r.p99Ms);
      rows.push(
        compare(`edge -> ${label} ${path}: req/s (wrk -c50 ${SECONDS}s, median of ${ROUNDS})`, { none: rps('none'), sandbox: rps('sandbox') }, '>= 0.9', (n) => Math.round(n)),
        compare(`edge -> ${label} ${path}: p99 latency, ms`, { none: p99('none'), sandbox: p99('sandbox') }, undefined, (n) => Math.round(n * 10) / 10),
      );
    }
    return {
      rows,
      notes: [
        "servers: the Next.js fixture's standalone server as the unsandboxed build made it; the edge, both runtimes and wrk share this machine's cores",
        "proxy: the same edge in this process; the sandboxed server is reached at its network namespace's address over the veth pair, the other on 127.0.0.1",
      ],
    };
  } finally {
    await edge.close();
    await Promise.all([runtimes.none.close(), runtimes.sandbox.close()]);
  }
}

/** a row of medians, their ratio and the rounds (none/sandboxed) */
function compare(measure: string, values: Record<Side, number[]>, target: string | undefined, round: (n: number) => number): Row {
  const none = median(values.none);
  const sandbox = median(values.sandbox);
  return {
    measure,
    'no sandbox': round(none),
    sandboxed: round(sandbox),
    ratio: Math.round((sandbox / none) * 100) / 100,
    ...(target === undefined ? {} : { target }),
    rounds: values.none.map((v, i) => `${round(v)}/${round(values.sandbox[i]!)}`).join(', '),
  };
}

/** what createRuntimeGateway makes, with the platform's server defaults; only `sandbox` differs between the sides */
function makeRuntime(dir: string, blobs: LocalBlobStore, side: Side): Runtime {
  const dataDir = join(dir, `data-${side}`);
  return new Runtime({
    blobs,
    dir: join(dataDir, 'runtime'),
    dataDir: join(dataDir, 'runtime-data'),
    requestTimeoutMs: 60_000,
    startTimeoutMs: 60_000,
    idleMs: 15 * 60_000,
    log: logFailures(`runtime ${side}`),
    ...(side === 'sandbox' ? { sandbox: { hidden: [dataDir], pids: 1024, tmpMb: 1024 } } : {}),
  });
}

function gatewayOver(runtimes: Record<Side, Runtime>, sideOf: Map<string, Side>): ServerGateway {
  const of = (id: string): Runtime => runtimes[sideOf.get(id) ?? 'none'];
  return {
    ensure: (id, bundle) => of(id).ensure(id, bundle, {}),
    proxy: (req, res, id, target, opts) => of(id).proxy(req, res, id, target, opts),
    upgrade: (req, socket, head, id, target, opts) => of(id).proxyUpgrade(req, socket, head, id, target, opts),
    pin: (ids) => {
      runtimes.none.pin(ids);
      runtimes.sandbox.pin(ids);
    },
    drain: (id, graceMs) => of(id).drain(id, graceMs),
  };
}

/** the runtimes' lifecycle lines would drown the table: only failures are printed */
function logFailures(who: string): (message: string, error?: Error) => void {
  return (message, error) => {
    if (error !== undefined) console.error(`[${who}] ${message}`, error);
  };
}

async function packageNext(dir: string, blobs: LocalBlobStore, next: NextApp): Promise<{ manifestHash: string; bundle: ServerBundle }> {
  if (next.kind === 'build') {
    const server = next.build.server!;
    const { bundle } = await packageServer({ bundleDir: server.bundleDir, entry: server.entry, args: server.args, blobs, log: () => {} });
    const pkg = await packageOutput({ outputDir: next.build.outputDir, outputIsRoot: next.build.outputIsRoot, blobs, log: () => {}, server: bundle });
    return { manifestHash: pkg.manifestHash, bundle };
  }
  const { bundle } = await packageServer({ bundleDir: join(next.dir, '.next', 'standalone'), entry: 'server.js', blobs, log: () => {} });
  const staticDir = join(dir, 'next-static');
  await cp(join(next.dir, '.next', 'static'), join(staticDir, '_next', 'static'), { recursive: true });
  return { manifestHash: (await packageOutput({ outputDir: staticDir, blobs, log: () => {}, server: bundle })).manifestHash, bundle };
}

/** an SSR deployment of `bundle` with one static file */
async function site(dir: string, blobs: LocalBlobStore, bundle: ServerBundle, name: string): Promise<{ manifestHash: string; bundle: ServerBundle }> {
  const out = join(dir, name);
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'robots.txt'), 'User-agent: *\n');
  return { manifestHash: (await packageOutput({ outputDir: out, blobs, log: () => {}, server: bundle })).manifestHash, bundle };
}

const wrk = (port: number, path: string, host: string) => wrkHost(port, path, host, SECONDS);
