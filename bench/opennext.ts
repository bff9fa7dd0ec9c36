/**
 * `npm run bench -- opennext`: the Next.js fixture built for the AWS target (install, then
 * OpenNext's build, which runs `next build` and bundles the functions; then the deterministic
 * zips) next to the same fixture built for Slipway's edge (install, then a bare `next build`
 * with standalone output), both through runBuild in the build sandbox, each from a fresh copy
 * and a fresh package cache. Also the server function's cold start: unzip + init + first /ssr.
 * SLIPWAY_BENCH_RUNS (default 1) repeats both builds; medians are reported.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBuild } from '../src/build/index.js';
import { buildForAws } from '../src/build/opennext/index.js';
import { functionUrlEvent, readResponse, startLambda } from '../test/helpers/lambda-invoke.js';
import { fixturesDir } from '../test/helpers/paths.js';
import { median } from './stats.js';

const RUNS = Number(process.env.SLIPWAY_BENCH_RUNS ?? 1);

const s = (msValue: number | undefined) => (msValue === undefined ? undefined : msValue / 1000);
const mib = (bytes: number | undefined) => (bytes === undefined ? undefined : bytes / 1024 / 1024);

async function freshCopy(root: string, name: string) {
  const sourceDir = join(root, name);
  await cp(join(fixturesDir, 'next-app'), sourceDir, { recursive: true });
  return {
    sourceDir,
    settings: {},
    env: { NEXT_TELEMETRY_DISABLED: '1' },
    timeoutMs: 900_000,
    log: () => {},
    cacheDir: join(root, `${name}-pm-cache`),
    hiddenPaths: [],
    scratchDir: root,
  };
}

export async function run() {
  const edge = { install: [] as number[], build: [] as number[] };
  const aws = { install: [] as number[], openNext: [] as number[], nextBuild: [] as number[], pack: [] as number[], cold: [] as number[] };
  let zips: { name: string; bytes: number; unzippedBytes: number }[] = [];
  for (let i = 0; i < RUNS; i++) {
    const root = await mkdtemp(join(tmpdir(), 'slipway-bench-opennext-'));
    try {
      const plain = await runBuild(await freshCopy(root, `edge-${i}`));
      edge.install.push(plain.installMs);
      edge.build.push(plain.buildMs);

      const built = await buildForAws({ ...(await freshCopy(root, `aws-${i}`)), zipDir: join(root, `zips-${i}`) });
      aws.install.push(built.timings.installMs);
      aws.openNext.push(built.timings.openNextMs);
      if (built.timings.nextBuildMs !== undefined) aws.nextBuild.push(built.timings.nextBuildMs);
      aws.pack.push(built.timings.packageMs);
      zips = built.functions.map(({ name, bytes, unzippedBytes }) => ({ name, bytes, unzippedBytes }));

      // what a cold Lambda does before its first answer, here: unpack, load the handler, render /ssr
      const server = built.functions.find((f) => f.name === 'server');
      if (server !== undefined) {
        const t = performance.now();
        const fn = await startLambda({ zipPath: server.zipPath, handler: server.handler });
        try {
          const res = readResponse(await fn.invoke(functionUrlEvent({ path: '/ssr' })));
          if (res.status !== 200) throw new Error(`the server function answered /ssr with ${res.status}`);
          aws.cold.push(performance.now() - t);
        } finally {
          await fn.close();
        }
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }
  const nextBuild = median(edge.build);
  const openNext = median(aws.openNext);
  const inner = aws.nextBuild.length > 0 ? median(aws.nextBuild) : undefined;
  const rows = [
    { target: 'edge: bare next build (reference)', 'install s': s(median(edge.install)), 'build s': s(nextBuild), 'x reference': 1 },
    { target: 'aws: open-next build', 'install s': s(median(aws.install)), 'build s': s(openNext), 'x reference': openNext / nextBuild },
    { target: '  of which next build', 'build s': s(inner), 'x reference': inner === undefined ? undefined : inner / nextBuild },
    { target: '  of which OpenNext bundling', 'build s': s(inner === undefined ? undefined : openNext - inner), 'x reference': inner === undefined ? undefined : (openNext - inner) / nextBuild },
    { target: 'aws: zip both functions', 'build s': s(median(aws.pack)), 'x reference': median(aws.pack) / nextBuild },
    ...zips.map((z) => ({ target: `aws: ${z.name} function`, 'zip MiB': mib(z.bytes), 'unzipped MiB': mib(z.unzippedBytes) })),
    { target: 'aws: server function cold start (unzip + init + /ssr)', 'build s': s(aws.cold.length > 0 ? median(aws.cold) : undefined) },
  ];
  return {
    title: `OpenNext for the AWS target vs a bare next build (Next.js fixture, ${RUNS} run${RUNS === 1 ? '' : 's'}, medians)`,
    rows,
    notes: [
      'Both builds run through runBuild in the build sandbox, each from a fresh copy with an empty package cache (npm ci from the registry).',
      "OpenNext's own `next build` is timed from its log (its bundling banner); the zips are deterministic (sorted entries, fixed mtimes).",
      "Lambda's limits: 50 MiB zipped, 250 MiB unzipped per function.",
    ],
  };
}
