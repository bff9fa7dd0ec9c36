/**
 * Edge worker for the HTTPS benchmark: routes, blob root and certificates come from the JSON
 * file named by SLIPWAY_BENCH_HTTPS_CONFIG (written by ./https.ts); the ports from the cluster.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { LocalBlobStore } from '../src/blobs/index.js';
import { createMemoryLookup, runEdgeWorker, type ResolvedSite } from '../src/edge/index.js';
import type { LoadedCertificate } from '../src/tls/certificates.js';

interface Config {
  blobRoot: string;
  hosts: Record<string, ResolvedSite>;
  platformKey: string;
  certificates: { names: string[]; source: LoadedCertificate['source']; certPem: string; keyPem: string }[];
}

const configFile = process.env.SLIPWAY_BENCH_HTTPS_CONFIG;
if (configFile === undefined) throw new Error('set SLIPWAY_BENCH_HTTPS_CONFIG to the bench config JSON (bench/https.ts does this)');
const config = JSON.parse(readFileSync(configFile, 'utf8')) as Config;
const certificates: LoadedCertificate[] = config.certificates.map((c, i) => {
  const leaf = new X509Certificate(c.certPem);
  return { id: `crt${i}`, ...c, notBefore: Date.parse(leaf.validFrom), notAfter: Date.parse(leaf.validTo), renewAt: null, renewFailures: 0, lastError: null };
});
await runEdgeWorker({
  lookup: createMemoryLookup(config.hosts),
  blobs: new LocalBlobStore(config.blobRoot),
  tls: { source: { generation: async () => 1, load: async () => ({ certificates, challenges: [] }) }, platformKey: Buffer.from(config.platformKey, 'base64') },
});
