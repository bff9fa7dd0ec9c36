/**
 * Edge worker for the static benchmark: routes and blob root come from the JSON file named by
 * SLIPWAY_BENCH_EDGE_CONFIG ({ blobRoot, hosts: { host: { deploymentId, manifestHash } } }).
 * SLIPWAY_BENCH_EDGE_RAW=0 turns the raw fast path off, to measure what it buys.
 */
import { readFileSync } from 'node:fs';
import { LocalBlobStore } from '../src/blobs/index.js';
import { createMemoryLookup, runEdgeWorker, type ResolvedSite } from '../src/edge/index.js';

const configFile = process.env.SLIPWAY_BENCH_EDGE_CONFIG;
if (configFile === undefined) throw new Error('set SLIPWAY_BENCH_EDGE_CONFIG to the bench config JSON (bench/static.ts does this)');
const config = JSON.parse(readFileSync(configFile, 'utf8')) as { blobRoot: string; hosts: Record<string, ResolvedSite> };
// SLIPWAY_BENCH_EDGE_RAW=0 measures the edge without its raw fast path (plain writeHead/end)
const rawResponses = process.env.SLIPWAY_BENCH_EDGE_RAW !== '0';
await runEdgeWorker({ lookup: createMemoryLookup(config.hosts), blobs: new LocalBlobStore(config.blobRoot), rawResponses });
