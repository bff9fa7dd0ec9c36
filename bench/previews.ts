import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEdgeServer, createMemoryLookup } from '../src/edge/index.js';
import { createRuntimeGateway } from '../src/runtime/index.js';
import { buildNextSite } from './next-site.js';
import { status } from './ssr.js';
import { median, ms, percentile } from './stats.js';

const PREVIEWS = Number(process.env.SLIPWAY_BENCH_PREVIEWS ?? 20);
const BUSY = 2;
// long enough that twenty one-at-a-time cold starts all stay up, short enough for a bench
const IDLE_MS = 15_000;
const COLD_RUNS = Number(process.env.SLIPWAY_BENCH_RUNS ?? 6);

/** Resident memory of a process and all its descendants (a sandboxed server runs under bwrap), MiB. */
async function treeRssMb(root: number | undefined): Promise<number> {
  if (root === undefined) return 0;
  const parents = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // the process ended while we looked
    }
  }
  const tree = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (!tree.has(pid) && tree.has(ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  let kb = 0;
  for (const pid of tree) {
    try {
      kb += Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kb / 1024;
}

async function memAvailableMb(): Promise<number> {
  const kb = /MemAvailable:\s+(\d+) kB/.exec(await readFile('/proc/meminfo', 'utf8'))?.[1];
  return Number(kb ?? 0) / 1024;
}

const sleep = (msecs: number) => new Promise((r) => setTimeout(r, msecs));

export async function run() {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-previews-'));
  try {
    const { blobs, bundle, pkg } = await buildNextSite(dir);

    const lookup = createMemoryLookup({});
    const { gateway, runtime } = createRuntimeGateway(blobs, dir, { memoryMb: 0, requestTimeoutMs: 60_000, idleMs: IDLE_MS });
    const edge = createEdgeServer({ lookup, blobs, servers: gateway });
    await new Promise<void>((resolve) => edge.server.listen(0, '127.0.0.1', resolve));
    const port = (edge.server.address() as AddressInfo).port;
    // `<branch>--<project>` hosts: previews, which the edge never pins (production would stay warm)
    const hosts = Array.from({ length: PREVIEWS }, (_, i) => `feature-${i}--site.localhost`);
    const idOf = (host: string) => `dprev${hosts.indexOf(host)}`;
    const serversMb = async () => {
      let total = 0;
      for (const s of runtime.status()) total += await treeRssMb(s.pid);
      return total;
    };
    const get = async (host: string) => {
      const t = performance.now();
      const code = await status(port, '/ssr', host);
      if (code !== 200) throw new Error(`${host} answered ${code}`);
      return performance.now() - t;
    };
    try {
      for (const [i, host] of hosts.entries()) {
        lookup.set(host, { deploymentId: `dprev${i}`, manifestHash: pkg.manifestHash });
        await runtime.materialize(`dprev${i}`, bundle); // done when the deployment is made, not on the request path
      }
      const freeBefore = await memAvailableMb();

      // all warm: every preview visited (one at a time: twenty Next.js starts at once on two cores measure the machine, not Slipway)
      for (const host of hosts) await get(host);
      for (const host of hosts) await get(host); // every one fresh again before measuring
      const warmRunning = runtime.status().length;
      const warmMb = await serversMb();
      const freeWarm = await memAvailableMb();

      // most idle: two previews keep getting requests, the others stop after IDLE_MS without one
      const busy = hosts.slice(0, BUSY);
      const until = Date.now() + IDLE_MS * 1.6;
      while (Date.now() < until) {
        for (const host of busy) await get(host);
        await sleep(250);
      }
      const idleRunning = runtime.status().length;
      const idleMb = await serversMb();
      const freeIdle = await memAvailableMb();

      // cold start after idling vs a warm request to the same preview
      const cold: number[] = [];
      const warm: number[] = [];
      for (let i = 0; i < COLD_RUNS; i++) {
        const host = hosts[BUSY + (i % (PREVIEWS - BUSY))]!;
        cold.push(await get(host));
        for (let k = 0; k < 3; k++) warm.push(await get(host));
        await runtime.drain(idOf(host), 0);
      }

      return {
        title: `${PREVIEWS} previews of the Next.js fixture: idle ones scale to zero (idle after ${IDLE_MS / 1000} s in this bench; 15 min by default)`,
        rows: [
          { measure: `all ${PREVIEWS} warm: server processes`, value: warmRunning },
          { measure: `all ${PREVIEWS} warm: resident memory of the servers, MiB`, value: Math.round(warmMb) },
          { measure: `all ${PREVIEWS} warm: machine MemAvailable drop, MiB`, value: Math.round(freeBefore - freeWarm) },
          { measure: `${BUSY} busy, ${PREVIEWS - BUSY} idle: server processes`, value: idleRunning },
          { measure: `${BUSY} busy, ${PREVIEWS - BUSY} idle: resident memory of the servers, MiB`, value: Math.round(idleMb), ratio: idleMb / warmMb },
          { measure: `${BUSY} busy, ${PREVIEWS - BUSY} idle: machine MemAvailable drop, MiB`, value: Math.round(freeBefore - freeIdle) },
          { measure: `cold start of an idled-out preview to the first 200 of /ssr, ms (median of ${COLD_RUNS})`, value: ms(median(cold)), ratio: median(cold) / median(warm) },
          { measure: 'cold start, p95 ms', value: ms(percentile(cold, 95)) },
          { measure: 'the same preview warm, ms (median)', value: ms(median(warm)) },
        ],
        notes: [
          'resident memory: VmRSS of every server process the runtime runs, summed (shared library pages count once per process, so it overstates a little); MemAvailable is the whole machine and moves with neighbours.',
          'previews (<branch>--<project> hosts) are never pinned; production and custom domains are, and stay warm.',
        ],
      };
    } finally {
      await edge.close();
      await runtime.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
