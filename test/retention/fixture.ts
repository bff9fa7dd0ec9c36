import { gzipSync } from 'node:zlib';
import { type BlobStore, sha256 } from '../../src/blobs/index.js';
import type { Manifest, ManifestEntry } from '../../src/manifest/index.js';
import { bumpCounter, type Db, type DeploymentStatus, type Project } from '../../src/store/index.js';

/** A file of a made deployment: its bytes, and whether a gzip variant is stored beside them. */
export interface MadeFile {
  body: string;
  gzip?: boolean;
}

/** Every blob a made deployment references (files, variants, its manifest), with its size. */
export type BlobSizes = Map<string, number>;

/**
 * Store a deployment's files and manifest in the blob store the way a build does (cheaply: no
 * build); returns the manifest hash and the blobs it references.
 */
export async function storeDeploymentFiles(blobs: BlobStore, files: Record<string, MadeFile>): Promise<{ manifestHash: string; blobs: BlobSizes }> {
  const manifest: Manifest = { version: 1, files: {} };
  const sizes: BlobSizes = new Map();
  const keep = async (bytes: Buffer) => {
    const hash = sha256(bytes);
    await blobs.put(hash, bytes);
    sizes.set(hash, bytes.length);
    return hash;
  };
  for (const [path, file] of Object.entries(files)) {
    const bytes = Buffer.from(file.body);
    const entry: ManifestEntry = { hash: await keep(bytes), size: bytes.length, type: path.endsWith('.html') ? 'text/html; charset=utf-8' : 'text/javascript; charset=utf-8' };
    if (file.gzip === true) {
      const gz = gzipSync(bytes);
      entry.gzip = { hash: await keep(gz), size: gz.length };
    }
    manifest.files[path] = entry;
  }
  const manifestHash = await keep(Buffer.from(JSON.stringify(manifest)));
  return { manifestHash, blobs: sizes };
}

/** A deployment row as a finished build (or one still under way) leaves it, made `ageDays` ago. */
export async function insertDeployment(
  db: Db,
  project: Project,
  d: { status: DeploymentStatus; environment: string; ageDays: number; manifestHash: string | null; branch?: string | null },
): Promise<string> {
  const id = `d${sha256(`${project.id} ${Math.random()}`).slice(0, 11)}`;
  const at = Date.now() - d.ageDays * 24 * 60 * 60_000;
  await db
    .insertInto('deployments')
    .values({
      id,
      project_id: project.id,
      seq: await bumpCounter(db, 'deployment_seq'),
      status: d.status,
      target: d.environment === 'production' ? 'production' : 'preview',
      trigger: 'api',
      branch: d.branch ?? (d.environment === 'production' ? 'main' : 'feature'),
      commit_sha: '0'.repeat(40),
      commit_message: null,
      commit_author: null,
      manifest_hash: d.manifestHash,
      files_total: null,
      files_uploaded: null,
      bytes_uploaded: null,
      timings: null,
      build_info: null,
      error_code: null,
      error_phase: null,
      error_message: null,
      attempts: 1,
      created_at: at,
      started_at: at,
      finished_at: d.status === 'building' ? null : at,
      env: null,
      server_memory_mb: null,
      server_pids: null,
      server_cpu_shares: null,
      server_request_timeout_seconds: null,
      integrity_error: null,
      environment: d.environment,
      pr_number: null,
      source_repo: null,
      head_repo: null,
      source_provider: null,
    })
    .execute();
  return id;
}
