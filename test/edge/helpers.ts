import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { LocalBlobStore, sha256 } from '../../src/blobs/index.js';
import type { Manifest, ManifestEntry } from '../../src/manifest/index.js';
import { createEdgeServer, type EdgeOptions, type EdgeServer } from '../../src/edge/index.js';
import { tempDir } from '../helpers/paths.js';

/** A file for makeDeployment: its bytes, Content-Type, and which precompressed variants to store. */
export interface FileSpec {
  body: string | Buffer;
  type?: string;
  gzip?: boolean;
  br?: boolean;
}

/** Store files as blobs and their manifest as a blob, the way a build would; returns the manifest hash. */
export async function makeDeployment(blobs: LocalBlobStore, files: Record<string, string | FileSpec>): Promise<{ manifestHash: string; manifest: Manifest }> {
  const manifest: Manifest = { version: 1, files: {} };
  for (const [path, value] of Object.entries(files)) {
    const spec: FileSpec = typeof value === 'string' ? { body: value } : value;
    const bytes = Buffer.from(spec.body);
    const hash = sha256(bytes);
    await blobs.put(hash, bytes);
    const entry: ManifestEntry = { hash, size: bytes.length, type: spec.type ?? typeFor(path) };
    if (spec.gzip === true) {
      const gz = gzipSync(bytes);
      await blobs.put(sha256(gz), gz);
      entry.gzip = { hash: sha256(gz), size: gz.length };
    }
    if (spec.br === true) {
      const br = brotliCompressSync(bytes);
      await blobs.put(sha256(br), br);
      entry.br = { hash: sha256(br), size: br.length };
    }
    manifest.files[path] = entry;
  }
  const json = Buffer.from(JSON.stringify(manifest));
  const manifestHash = sha256(json);
  await blobs.put(manifestHash, json);
  return { manifestHash, manifest };
}

function typeFor(path: string): string {
  if (path.endsWith('.html')) return 'text/html; charset=utf-8';
  if (path.endsWith('.js')) return 'text/javascript; charset=utf-8';
  if (path.endsWith('.css')) return 'text/css; charset=utf-8';
  return 'application/octet-stream';
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/** One HTTP request on a fresh connection, with the Host header set by hand (fetch cannot). */
export function get(port: number, host: string | undefined, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (host !== undefined) headers.host = host;
    const req = httpRequest({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers, setHost: false, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString() });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export interface EdgeFixture {
  blobs: LocalBlobStore;
  blobRoot: string;
  cleanup: () => Promise<void>;
}

/** A LocalBlobStore in a fresh temp dir. */
export async function blobFixture(): Promise<EdgeFixture> {
  const dir = await tempDir('slipway-edge-');
  return { blobs: new LocalBlobStore(dir.path), blobRoot: dir.path, cleanup: dir.cleanup };
}

/** An edge server listening on a free loopback port. */
export async function listenEdge(opts: EdgeOptions): Promise<{ edge: EdgeServer; port: number }> {
  const edge = createEdgeServer(opts);
  await new Promise<void>((resolve) => edge.server.listen(0, '127.0.0.1', resolve));
  return { edge, port: (edge.server.address() as AddressInfo).port };
}
