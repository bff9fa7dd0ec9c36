/**
 * Access-log benchmark: edge throughput with the access log on (every request observed, batched
 * into a SQLite store, metrics counted) vs off (no observer), same files, one edge process each,
 * measured back to back with wrk over keep-alive connections. Target: on/off >= 0.95.
 * SLIPWAY_BENCH_SECONDS shortens the runs, SLIPWAY_BENCH_ROUNDS takes the median of several.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pageAndAsset, startEdgeCluster, storeBenchSite, waitForAnswer, wrk } from './load-tools.js';
import { stopChild } from './processes.js';
import { median } from './stats.js';

const HOST = 'bench.localhost';

export async function run(): Promise<{ title: string; rows: Record<string, string | number>[]; notes: string[] }> {
  if (spawnSync('wrk', ['--version']).error !== undefined) throw new Error('wrk is not installed: apt-get install -y wrk');
  const seconds = Number(process.env.SLIPWAY_BENCH_SECONDS ?? '8');
  const rounds = Math.max(1, Number(process.env.SLIPWAY_BENCH_ROUNDS ?? '3'));
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-access-log-'));
  const children: ChildProcess[] = [];
  try {
    const files = pageAndAsset();
    const { manifestHash } = await storeBenchSite(dir, files);
    const script = fileURLToPath(new URL('./access-log-edge.js', import.meta.url));
    const edges: Record<'on' | 'off', number> = { on: 0, off: 0 };
    for (const mode of ['off', 'on'] as const) {
      const edge = await startEdgeCluster(script, [mode, dir, manifestHash], {});
      children.push(edge.child);
      await waitForAnswer(edge.port, HOST, edge.child);
      edges[mode] = edge.port;
    }
    const rows: Record<string, string | number>[] = [];
    for (const file of files) {
      const results: Record<'on' | 'off', number[]> = { on: [], off: [] };
      for (let round = 0; round < rounds; round++) {
        // alternate which goes first, so a neighbour's load hits both alike
        for (const mode of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
          results[mode].push((await wrk({ port: edges[mode], host: HOST, path: file.path, seconds })).requestsPerSec);
        }
      }
      const ratios = results.on.map((on, i) => on / results.off[i]!);
      rows.push({
        file: file.label,
        'off req/s': Math.round(median(results.off)),
        'on req/s': Math.round(median(results.on)),
        'on/off': `${Math.round(median(ratios) * 100)} %`,
      });
    }
    return {
      title: `Edge throughput with the access log on vs off (wrk -t2 -c50 -d${seconds}s, keep-alive, one edge process each, median of ${rounds} round(s))`,
      rows,
      notes: ['Target: on/off >= 95 %. "on" stores every request (batched once a second into SQLite) and counts its metrics; "off" has no observer.'],
    };
  } finally {
    for (const child of children) await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(JSON.stringify(await run(), null, 2));
