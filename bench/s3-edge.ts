/**
 * The edge serving from an S3 bucket (a real s3rver) through its local blob cache, against the
 * same site served from the directory store: a cold disk cache (a new edge, nothing local), a
 * warm one (a restarted edge: its memory is empty, <data-dir>/blob-cache is full), and hot (the
 * memory cache serves). Run it alone with `node dist/bench/s3-edge.js`;
 * SLIPWAY_BENCH_ROUNDS (default 5) and SLIPWAY_BENCH_SECONDS (hot runs, default 3) tune it.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CachedBlobStore } from '../src/blobs/cache.js';
import { type BlobStore, LocalBlobStore, sha256 } from '../src/blobs/index.js';
import { S3BlobStore } from '../src/blobs/s3.js';
import { createEdgeServer } from '../src/edge/index.js';
import { createMemoryLookup } from '../src/edge/memory-lookup.js';
import type { Manifest } from '../src/manifest/index.js';
import { startS3rver, useS3rverCredentials } from '../test/helpers/s3rver.js';
import { median, ms, percentile } from './stats.js';

const HOST = 'bench.localhost';
const FILES = 300;
const CONCURRENCY = 8;

interface Pass {
  requestsPerSec: number;
  firstByteMs: number[];
}

export async function run(): Promise<{ title: string; rows: Record<string, string | number>[]; notes: string[] }> {
  const rounds = Math.max(1, Number(process.env.SLIPWAY_BENCH_ROUNDS ?? '5'));
  const seconds = Number(process.env.SLIPWAY_BENCH_SECONDS ?? '3');
  useS3rverCredentials();
  const s3 = await startS3rver();
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-s3-edge-'));
  const bucket = new S3BlobStore({ bucket: s3.bucket, prefix: 'bench/', endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true }, { tmpDir: dir });
  try {
    const local = new LocalBlobStore(join(dir, 'blobs'));
    const { manifestHash, paths, bytes, hashes } = await storeSite([local, bucket]);
    const results: Record<'local' | 'cold' | 'warm', { first: Pass[]; hot: number[]; fetches: number[] }> = {
      local: { first: [], hot: [], fetches: [] },
      cold: { first: [], hot: [], fetches: [] },
      warm: { first: [], hot: [], fetches: [] },
    };
    // JIT and sockets warm before anything counts
    await measure(local, manifestHash, paths, 1);
    for (let round = 0; round < rounds; round++) {
      const coldDir = join(dir, `cold-${round}`);
      const warmDir = join(dir, `warm-${round}`);
      // the warm folder is filled beforehand (not measured), as a previous run of the edge left it
      const filler = new CachedBlobStore(bucket, new LocalBlobStore(warmDir), 1024 ** 3);
      for (const hash of hashes) await filler.get(hash);
      const scenarios: [keyof typeof results, () => BlobStore][] = [
        ['local', () => local],
        // a new edge on a fresh machine: nothing on disk
        ['cold', () => new CachedBlobStore(bucket, new LocalBlobStore(coldDir), 1024 ** 3)],
        // the edge restarted: its memory is empty, its folder is full
        ['warm', () => new CachedBlobStore(bucket, new LocalBlobStore(warmDir), 1024 ** 3)],
      ];
      // back to back, in a rotating order: a neighbour's load on a shared machine hits them alike
      for (let i = 0; i < scenarios.length; i++) {
        const [name, open] = scenarios[(i + round) % scenarios.length]!;
        const blobs = open();
        const r = await measure(blobs, manifestHash, paths, seconds);
        results[name].first.push(r.first);
        results[name].hot.push(r.hot);
        results[name].fetches.push(blobs instanceof CachedBlobStore ? blobs.fetches : 0);
      }
    }
    const reference = results.local;
    const refFirstByte = median(reference.first.map((p) => median(p.firstByteMs)));
    const refRate = median(reference.first.map((p) => p.requestsPerSec));
    const refHot = median(reference.hot);
    const rows = (['local', 'cold', 'warm'] as const).map((name) => {
      const r = results[name];
      const firstByte = median(r.first.map((p) => median(p.firstByteMs)));
      const rate = median(r.first.map((p) => p.requestsPerSec));
      const hot = median(r.hot);
      return {
        edge: name === 'local' ? 'directory store' : name === 'cold' ? 'S3, cold disk cache' : 'S3, warm disk cache',
        'first byte ms (median)': ms(firstByte),
        'first byte ms (p95)': ms(median(r.first.map((p) => percentile(p.firstByteMs, 95)))),
        'first byte vs dir': `${(firstByte / refFirstByte).toFixed(2)}x`,
        'first pass req/s': Math.round(rate),
        'req/s vs dir': `${Math.round((rate / refRate) * 100)} %`,
        'hot req/s': Math.round(hot),
        'hot vs dir': `${Math.round((hot / refHot) * 100)} %`,
        'S3 fetches': median(r.fetches),
      };
    });
    return {
      title: `Edge serving from S3 (s3rver) through the blob cache vs the directory store (${FILES + 1} files, ${Math.round(bytes / 1024)} KB, ${CONCURRENCY} connections, ${rounds} round(s))`,
      rows,
      notes: [
        'first pass: a new edge process (empty memory cache) asks for every file once; first byte = time to the response headers. cold: nothing in <data-dir>/blob-cache, every blob comes from the bucket; warm: a folder filled beforehand, as after an edge restart. The three run back to back in a rotating order each round; figures are medians over rounds.',
        'hot: the same edge afterwards, random files for a few seconds: served from memory whatever the store, so the three should match.',
        's3rver runs in this process on loopback: a real bucket adds its network round trip (~10-50 ms) to every cold first byte, not to warm or hot ones.',
      ],
    };
  } finally {
    await bucket.close();
    await s3.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
}

/** FILES assets of 1-64 KB plus an index page, into every store; returns the manifest's hash. */
async function storeSite(stores: BlobStore[]): Promise<{ manifestHash: string; paths: string[]; bytes: number; hashes: string[] }> {
  const manifest: Manifest = { version: 1, files: {} };
  const paths: string[] = [];
  const hashes: string[] = [];
  let bytes = 0;
  for (let i = 0; i <= FILES; i++) {
    const size = 1024 + ((i * 7919) % 63) * 1024;
    const body = Buffer.alloc(size);
    // incompressible, different bytes per file (deterministic)
    for (let at = 0; at < size; at += 32) createHash('sha256').update(`${i}:${at}`).digest().copy(body, at);
    const name = i === 0 ? 'index.html' : `assets/file-${i}.bin`;
    const hash = sha256(body);
    for (const store of stores) await store.put(hash, body);
    manifest.files[name] = { hash, size, type: i === 0 ? 'text/html; charset=utf-8' : 'application/octet-stream' };
    paths.push(i === 0 ? '/' : `/${name}`);
    hashes.push(hash);
    bytes += size;
  }
  const json = Buffer.from(JSON.stringify(manifest));
  const manifestHash = sha256(json);
  for (const store of stores) await store.put(manifestHash, json);
  hashes.push(manifestHash);
  return { manifestHash, paths, bytes, hashes };
}

async function measure(blobs: BlobStore, manifestHash: string, paths: string[], seconds: number): Promise<{ first: Pass; hot: number }> {
  const edge = createEdgeServer({ lookup: createMemoryLookup({ [HOST]: { deploymentId: 'dpl_bench', manifestHash } }), blobs, log: () => {} });
  await new Promise<void>((resolve) => edge.server.listen(0, '127.0.0.1', resolve));
  const { port } = edge.server.address() as AddressInfo;
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  try {
    // first pass: every file once, CONCURRENCY at a time
    const firstByteMs: number[] = [];
    const queue = [...paths];
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let path = queue.shift(); path !== undefined; path = queue.shift()) firstByteMs.push(await get(agent, port, path));
      }),
    );
    const first = { requestsPerSec: paths.length / ((performance.now() - started) / 1000), firstByteMs };
    // hot: random files from the memory cache
    let served = 0;
    const hotStart = performance.now();
    const until = hotStart + seconds * 1000;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, worker) => {
        for (let i = worker; performance.now() < until; i += CONCURRENCY) {
          await get(agent, port, paths[(i * 31) % paths.length]!);
          served++;
        }
      }),
    );
    return { first, hot: served / ((performance.now() - hotStart) / 1000) };
  } finally {
    agent.destroy();
    await edge.close();
  }
}

/** GET `path`, read the whole body; resolves with the ms until the response headers came. */
function get(agent: Agent, port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const sent = performance.now();
    const req = request({ host: '127.0.0.1', port, path, agent, headers: { host: HOST } }, (res) => {
      const firstByte = performance.now() - sent;
      if (res.statusCode !== 200) reject(new Error(`${path}: HTTP ${res.statusCode}`));
      res.on('data', () => {});
      res.on('end', () => resolve(firstByte));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

// run directly: print the table
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = await run();
  console.log(result.title);
  console.table(result.rows);
  for (const note of result.notes) console.log(`- ${note}`);
}
