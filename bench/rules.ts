/**
 * Site-rules benchmark: requests per second of the same static site with no rules, with 200
 * vercel.json rules and with 200 _redirects/_headers rules, served by one edge cluster and
 * measured with wrk in alternating rounds (so a neighbour's load hits them alike). The page is
 * a file, so every rule that runs before the files is tried on each request: the worst case for
 * a request the rules do not redirect. Target: >= 0.9 x the site without rules.
 * SLIPWAY_BENCH_SECONDS (default 5) and SLIPWAY_BENCH_ROUNDS (default 3) size the runs.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalBlobStore, sha256 } from '../src/blobs/index.js';
import type { Manifest, SiteRules } from '../src/manifest/index.js';
import { parseHeaders, parseRedirects, vercelRules } from '../src/rules/index.js';
import { startEdgeCluster, statusOf, wrkHost, type WrkResult } from './load-tools.js';
import { median } from './stats.js';
import { stopChild } from './processes.js';

const TARGETS = [
  { host: 'plain.localhost', label: 'no rules' },
  { host: 'vercel.localhost', label: '200 vercel.json rules' },
  { host: 'netlify.localhost', label: '200 _redirects/_headers rules' },
  { host: 'conditions.localhost', label: '200 vercel.json rules, one with a cookie condition' },
] as const;

export async function run(): Promise<{ title: string; rows: Record<string, string | number>[]; notes: string[] }> {
  if (spawnSync('wrk', ['--version']).error !== undefined) throw new Error('wrk is not installed: apt-get install -y wrk');
  const seconds = Number(process.env.SLIPWAY_BENCH_SECONDS ?? '5');
  const rounds = Math.max(1, Number(process.env.SLIPWAY_BENCH_ROUNDS ?? '3'));
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-rules-'));
  let edge: ChildProcess | undefined;
  try {
    const config = await storeSites(dir);
    const started = await startEdge(config);
    edge = started.child;
    const results = new Map<string, WrkResult[]>();
    for (let round = 0; round < rounds; round++) {
      for (const target of TARGETS) {
        await wrkHost(started.port, '/', target.host, 1); // warm-up: JIT, compiled views, blob cache
        const result = await wrkHost(started.port, '/', target.host, seconds);
        results.set(target.host, [...(results.get(target.host) ?? []), result]);
      }
    }
    const baseline = results.get(TARGETS[0].host) ?? [];
    const rows = TARGETS.map((target) => {
      const runs = results.get(target.host) ?? [];
      const ratios = runs.map((r, i) => r.requestsPerSec / (baseline[i]?.requestsPerSec ?? Number.NaN));
      return {
        site: target.label,
        'req/s': Math.round(median(runs.map((r) => r.requestsPerSec))),
        'p99 ms': median(runs.map((r) => r.p99Ms)),
        'vs no rules': target === TARGETS[0] ? '' : median(ratios).toFixed(2),
      };
    });
    return {
      title: `Site rules: one static page, with and without 200 rules (wrk -t2 -c50 -d${seconds}s, 1 edge worker, ${rounds} alternating round(s))`,
      rows,
      notes: [
        'vercel.json: 120 redirects, 40 header rules (one for every path) and 40 rewrites; the page is a file, so the redirects and header rules are all tried and the rewrites never are.',
        "with a cookie condition: the same vercel.json with one redirect conditional on a cookie, so the outcome cannot be remembered per path: the edge remembers which rules' patterns match the path and checks only their conditions on each request.",
        '_redirects/_headers: 160 redirects and rewrites and 40 header blocks (one for every path); the page is a file, so only forced rules are tried.',
        'per path the edge remembers what only the path decides (the outcome, or which rules match); rules are skipped by their literal path prefix before their regular expression runs; a file with rule headers is compiled once per header set, so it keeps the prebuilt-response fast path.',
        'target: >= 0.9 x the site without rules.',
      ],
    };
  } finally {
    if (edge !== undefined) await stopChild(edge);
    await rm(dir, { recursive: true, force: true });
  }
}

/** 200 rules of the shapes sites really carry: moved sections, legacy URLs, per-section headers. */
function vercelJson(withCondition = false): string {
  const redirects = Array.from({ length: 120 }, (_, i) =>
    i % 2 === 0 ? { source: `/old-section-${i}/:slug`, destination: `/section-${i}/:slug`, permanent: true } : { source: `/legacy-${i}/(.*)`, destination: `/archive/${i}/$1`, permanent: false },
  );
  const headers = Array.from({ length: 40 }, (_, i) =>
    i === 0 ? { source: '/(.*)', headers: [{ key: 'X-Frame-Options', value: 'DENY' }] } : { source: `/docs-${i}/:path*`, headers: [{ key: 'Cache-Control', value: 'public, max-age=600' }] },
  );
  const rewrites = Array.from({ length: 40 }, (_, i) => ({ source: `/blog-${i}/:slug`, destination: `/posts/${i}/:slug.html` }));
  // a condition on the request means no outcome can be remembered per path: every request runs the rules
  if (withCondition) redirects[119] = { source: '/beta/:slug', destination: '/preview/:slug', permanent: false, has: [{ type: 'cookie', key: 'beta', value: 'yes' }] } as (typeof redirects)[number];
  return JSON.stringify({ redirects, headers, rewrites });
}

function netlifyFiles(): { redirects: string; headers: string } {
  const redirects = Array.from({ length: 160 }, (_, i) =>
    i % 4 === 0 ? `/forced-${i}/*  /new-${i}/:splat  301!` : i % 4 === 1 ? `/app-${i}/*  /index.html  200` : `/old-${i}/:slug  /section-${i}/:slug  301`,
  ).join('\n');
  const headers = Array.from({ length: 40 }, (_, i) => (i === 0 ? '/*\n  X-Frame-Options: DENY' : `/docs-${i}/*\n  Cache-Control: public, max-age=600`)).join('\n');
  return { redirects, headers };
}

async function storeSites(dir: string): Promise<string> {
  const blobRoot = join(dir, 'blobs');
  const blobs = new LocalBlobStore(blobRoot);
  let html = '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Bench</title></head>\n<body>\n';
  for (let i = 0; html.length < 2048 - 20; i++) html += `<p>Paragraph ${i} of the benchmark page.</p>\n`;
  const body = Buffer.from(`${html}</body></html>\n`.padEnd(2048, ' '));
  await blobs.put(sha256(body), body);
  const netlify = netlifyFiles();
  const rules: (SiteRules | undefined)[] = [
    undefined,
    vercelRules(vercelJson()),
    { platform: 'netlify', routes: [...parseRedirects(netlify.redirects), ...parseHeaders(netlify.headers)] },
    vercelRules(vercelJson(true)),
  ];
  const hosts: Record<string, { deploymentId: string; manifestHash: string }> = {};
  for (const [i, target] of TARGETS.entries()) {
    const manifest: Manifest = { version: 1, files: { 'index.html': { hash: sha256(body), size: body.length, type: 'text/html; charset=utf-8' } } };
    const siteRules = rules[i];
    if (siteRules !== undefined) manifest.rules = siteRules;
    const json = Buffer.from(JSON.stringify(manifest));
    await blobs.put(sha256(json), json);
    hosts[target.host] = { deploymentId: `dpl_bench_${i}`, manifestHash: sha256(json) };
  }
  const configFile = join(dir, 'edge-config.json');
  await writeFile(configFile, JSON.stringify({ blobRoot, hosts }));
  return configFile;
}

async function startEdge(configFile: string): Promise<{ child: ChildProcess; port: number }> {
  const edge = await startEdgeCluster(fileURLToPath(new URL('./static-primary.js', import.meta.url)), ['0', '1', 'none'], { SLIPWAY_BENCH_EDGE_CONFIG: configFile });
  for (const target of TARGETS) {
    const status = await statusOf(edge.port, target.host);
    if (status !== 200) {
      await stopChild(edge.child);
      throw new Error(`the edge answered ${status} for ${target.host}`);
    }
  }
  return edge;
}

// run directly: print the table
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = await run();
  console.log(result.title);
  console.table(result.rows);
  for (const note of result.notes) console.log(`- ${note}`);
}
