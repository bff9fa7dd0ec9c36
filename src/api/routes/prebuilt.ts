import { recordDeploymentEvent } from '../../notify/index.js';
import type { FastifyPluginAsync } from 'fastify';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { compressVariants, contentType, MAX_COMPRESS_SIZE, MIN_COMPRESS_SIZE } from '../../artifact/index.js';
import type { BlobStore } from '../../blobs/index.js';
import { aliasTarget, branchAlias, branchSlug, moveAlias, PRODUCTION, recordLiveAfterMove, serializeDeployment } from '../../deployments/index.js';
import { goLivePlan } from '../../environments/index.js';
import { AppError } from '../../errors/index.js';
import { newId } from '../../ids.js';
import { fenceAfterSweep, fenceHolds, readFence } from '../../retention/index.js';
import { isBlobHash, parseManifest, type Manifest, type ManifestEntry, type Variant } from '../../manifest/index.js';
import { getProject } from '../../projects/index.js';
import { bumpCounter, type Db, type Deployment } from '../../store/index.js';
import { prebuiltSchemas } from '../schemas/resources.js';
import { objectBody, type ApiDeps } from '../server.js';

type ProjectParams = { Params: { project: string } };
type BlobParams = { Params: { project: string; hash: string } };

/** the largest single file a prebuilt upload may carry */
const MAX_BLOB_BYTES = 1024 * 1024 * 1024;
/** the most files one prebuilt deployment may have (a manifest this big is ~10 MB of JSON) */
const MAX_FILES = 100_000;
/** JSON bodies here list every file of a site, far more than the API's usual 1 MiB */
const LIST_BODY_LIMIT = 32 * 1024 * 1024;
/** who may: a member of the project's team, or the project's deploy token (for CI); the accounts' access check reads it */
const DEPLOY = { project: 'project', role: 'member', deploy: true } as const;
/** files compressed at once when a prebuilt deployment is created */
const COMPRESS_CONCURRENCY = 4;

/**
 * Deploy a folder built elsewhere (`slipway deploy --prebuilt <dir>`), content-addressed:
 *   1. POST /projects/<p>/prebuilt/missing {"hashes":[...]} -> {"missing":[...]}: the blobs the store lacks
 *   2. PUT  /projects/<p>/blobs/<sha256> (application/octet-stream): one file, streamed to disk and
 *      hashed on the way; bytes that do not hash to <sha256> are refused and never stored
 *   3. POST /projects/<p>/prebuilt {"files":{"<path>":{"hash","size"}},"target"?,"branch"?,"message"?}
 *      -> 201 a ready deployment (nothing is built), whose aliases move like a finished build's
 * Blobs are project-scoped in the URL so the caller's access to the project is what is checked.
 */
export function prebuiltRoutes(deps: ApiDeps): FastifyPluginAsync {
  const { config, store, blobs, events } = deps;
  return async (app) => {
    // the body of a blob upload is handed to the route as the request stream, not buffered
    app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

    app.post<ProjectParams>('/projects/:project/prebuilt/missing', { schema: prebuiltSchemas.missing, bodyLimit: LIST_BODY_LIMIT, config: { access: DEPLOY } }, async (req) => {
      await getProject(store.db, req.params.project);
      const hashes = objectBody(req.body).hashes;
      if (!Array.isArray(hashes) || hashes.length > MAX_FILES * 3 || !hashes.every((h) => typeof h === 'string' && isBlobHash(h))) {
        throw new AppError('VALIDATION', 'hashes must be a list of sha256 hex strings (lower case, 64 characters).', {
          hint: 'For example: {"hashes": ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]}',
        });
      }
      const missing: string[] = [];
      for (const hash of new Set(hashes as string[])) if (!(await blobs.has(hash))) missing.push(hash);
      return { missing };
    });

    app.put<BlobParams>('/projects/:project/blobs/:hash', { schema: prebuiltSchemas.upload, config: { access: DEPLOY } }, async (req, reply) => {
      await getProject(store.db, req.params.project);
      const { hash } = req.params;
      if (!isBlobHash(hash))
        throw new AppError('VALIDATION', `${JSON.stringify(hash)} is not a sha256 hex name.`, { hint: 'PUT /api/v1/projects/<project>/blobs/<sha256 of the bytes, hex, lower case>' });
      const body = req.body as Readable | undefined;
      if (body === undefined || typeof (body as Readable).pipe !== 'function') {
        throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'A blob upload takes the raw bytes.', { hint: 'Send Content-Type: application/octet-stream.' });
      }
      if (await blobs.has(hash)) {
        body.resume();
        return reply.code(200).send({ hash, stored: false });
      }
      const size = await receiveBlob(body, hash, join(config.dataDir, 'uploads'), (file) => blobs.putFile(hash, file));
      return reply.code(201).send({ hash, size, stored: true });
    });

    app.post<ProjectParams>('/projects/:project/prebuilt', { schema: prebuiltSchemas.create, bodyLimit: LIST_BODY_LIMIT, config: { access: DEPLOY, idempotent: true } }, async (req, reply) => {
      const project = await getProject(store.db, req.params.project);
      const body = objectBody(req.body);
      const manifest = manifestFrom(body.files);
      const target = body.target ?? 'preview';
      if (target !== 'production' && target !== 'preview')
        throw new AppError('VALIDATION', 'target must be "production" or "preview".', { hint: 'For example: {"files": {...}, "target": "production"}' });
      for (const [field, value] of [
        ['branch', body.branch],
        ['message', body.message],
      ] as const) {
        if (value !== undefined && (typeof value !== 'string' || value.length > 1000)) throw new AppError('VALIDATION', `${field} must be a string.`);
      }
      const hashes = [...new Set(Object.values(manifest.files).map((f) => f.hash))];
      // read before looking at which blobs the store has; a garbage collection sweeping since then means look again
      let fence = await readFence(store.db);
      let json: Buffer;
      for (;;) {
        const missing: string[] = [];
        for (const hash of hashes) if (!(await blobs.has(hash))) missing.push(hash);
        if (missing.length > 0) throw new AppError('BLOBS_MISSING', `${missing.length} of the files are not uploaded yet: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}.`);
        await addVariants(manifest, blobs, await productionManifest(store.db, blobs, project.id));
        json = Buffer.from(JSON.stringify(manifest));
        await blobs.put(createHash('sha256').update(json).digest('hex'), json);
        if (await fenceHolds(store.db, fence)) break;
        fence = await fenceAfterSweep(store);
        for (const entry of Object.values(manifest.files)) for (const v of ['gzip', 'br'] as const) delete entry[v];
      }
      const manifestHash = createHash('sha256').update(json).digest('hex');
      const branch = (body.branch as string | undefined) ?? null;
      const files = Object.values(manifest.files);
      const { deployment, moved } = await store.tx(async (db) => {
        if (!(await fenceHolds(db, fence))) throw new AppError('GC_RUNNING', 'A garbage collection started while this deployment was being recorded.');
        const now = Date.now();
        // production may require approval: an upload is no way around it (an explicit --prod upload is a person's move, like promote)
        const plan = await goLivePlan(db, project, target);
        const d: Deployment = {
          id: newId('d'),
          project_id: project.id,
          seq: await bumpCounter(db, 'deployment_seq'),
          status: plan.waits ? 'awaiting-approval' : 'ready',
          target,
          trigger: 'api',
          branch,
          commit_sha: '',
          commit_message: (body.message as string | undefined) ?? `Prebuilt upload (${files.length} file${files.length === 1 ? '' : 's'})`,
          commit_author: null,
          manifest_hash: manifestHash,
          files_total: files.length,
          files_uploaded: null,
          bytes_uploaded: files.reduce((sum, f) => sum + f.size, 0),
          timings: null,
          build_info: JSON.stringify({ prebuilt: true }),
          error_code: null,
          error_phase: null,
          error_message: null,
          attempts: 0,
          created_at: now,
          started_at: now,
          finished_at: now,
          // a prebuilt site is static: no server runs, so it takes no variables or server limits
          env: null,
          server_memory_mb: null,
          server_pids: null,
          server_cpu_shares: null,
          server_request_timeout_seconds: null,
          integrity_error: null,
          live_at: null,
          environment: target,
          pr_number: null,
          source_repo: null,
          head_repo: null,
          source_provider: null,
        };
        await db.insertInto('deployments').values(d).execute();
        await recordDeploymentEvent(db, plan.waits ? 'deployment.awaiting_approval' : 'deployment.ready', d.id);
        const aliases: string[] = [];
        if (plan.waits) return { deployment: d, moved: aliases };
        if (branch !== null) {
          const name = branchAlias(branchSlug(branch, project.name));
          await moveAlias(db, project.id, name, d.id);
          aliases.push(name);
        }
        if (target === 'production') {
          await moveAlias(db, project.id, PRODUCTION, d.id);
          aliases.push(PRODUCTION);
        }
        return { deployment: d, moved: aliases };
      });
      for (const alias of moved) events.emit('alias-moved', { projectId: project.id, alias, deploymentId: deployment.id });
      // a prebuilt site is static (nothing to warm); liveAt comes once every edge serves its aliases
      if (moved.length > 0) void recordLiveAfterMove(store, deployment.id);
      return reply.code(201).send(serializeDeployment(config, project, deployment, await aliasTarget(store.db, project.id, PRODUCTION)));
    });
  };
}

/** `{"<path>":{"hash","size"}}` -> a manifest, with each path checked the way parseManifest checks stored ones. */
function manifestFrom(files: unknown): Manifest {
  const example = { hint: 'For example: {"files": {"index.html": {"hash": "<sha256 hex>", "size": 1234}}}' };
  if (typeof files !== 'object' || files === null || Array.isArray(files)) throw new AppError('VALIDATION', 'files must be an object of path -> {hash, size}.', example);
  const entries = Object.entries(files as Record<string, unknown>);
  if (entries.length === 0) throw new AppError('OUTPUT_NOT_FOUND', 'The upload has no files to deploy.', { hint: 'Point --prebuilt at the folder your build wrote (e.g. dist).' });
  if (entries.length > MAX_FILES) throw new AppError('VALIDATION', `A prebuilt deployment has at most ${MAX_FILES} files; this one has ${entries.length}.`);
  const out: [string, ManifestEntry][] = [];
  for (const [path, value] of entries) {
    if (path === '' || path.startsWith('/') || path.includes('\\') || path.includes('\0') || path.split('/').some((s) => s === '' || s === '.' || s === '..')) {
      throw new AppError('VALIDATION', `File path ${JSON.stringify(path)} is not clean: paths are relative, '/'-separated, without "." or ".." parts.`, example);
    }
    const v = value as { hash?: unknown; size?: unknown } | null;
    if (typeof v !== 'object' || v === null || typeof v.hash !== 'string' || !isBlobHash(v.hash) || !Number.isSafeInteger(v.size) || (v.size as number) < 0) {
      throw new AppError('VALIDATION', `File ${JSON.stringify(path)} needs {"hash": "<sha256 hex>", "size": <bytes>}.`, example);
    }
    out.push([path, { hash: v.hash, size: v.size as number, type: contentType(path).type }]);
  }
  out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { version: 1, files: Object.fromEntries(out) };
}

/**
 * Stream an upload into a temp file while hashing it; store it only if it hashes to `hash`.
 * Returns the size. The temp file is gone afterwards, whatever happened.
 */
async function receiveBlob(body: Readable, hash: string, dir: string, store: (file: string) => Promise<boolean>): Promise<number> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${hash}.${randomBytes(6).toString('hex')}.part`);
  const hasher = createHash('sha256');
  let size = 0;
  try {
    await pipeline(
      body,
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          size += chunk.length;
          if (size > MAX_BLOB_BYTES) throw new AppError('PAYLOAD_TOO_LARGE', `A file of a prebuilt upload may be at most ${MAX_BLOB_BYTES / 1024 / 1024} MiB.`);
          hasher.update(chunk);
          yield chunk;
        }
      },
      createWriteStream(file, { mode: 0o600 }),
    );
    const got = hasher.digest('hex');
    if (got !== hash) throw new AppError('BLOB_MISMATCH', `The uploaded bytes hash to ${got}, not ${hash}; nothing was stored.`);
    await store(file);
    return size;
  } finally {
    await rm(file, { force: true });
  }
}

/**
 * Precompress text files the way a build's packaging does, so the edge serves gzip and brotli
 * for prebuilt sites too; variants of unchanged files are taken from production's manifest
 * (brotli at its best quality is slow), the rest are made here from the stored blobs.
 */
async function addVariants(manifest: Manifest, blobs: BlobStore, previous: Manifest | undefined): Promise<void> {
  const reuse = new Map<string, { gzip?: Variant; br?: Variant }>();
  for (const e of Object.values(previous?.files ?? {}))
    if (e.gzip !== undefined || e.br !== undefined) reuse.set(`${e.hash} ${e.type}`, { ...(e.gzip ? { gzip: e.gzip } : {}), ...(e.br ? { br: e.br } : {}) });
  const made = new Map<string, Promise<{ gzip?: Variant; br?: Variant }>>();
  const variantsOf = (entry: ManifestEntry): Promise<{ gzip?: Variant; br?: Variant }> => {
    const key = `${entry.hash} ${entry.type}`;
    let pending = made.get(key);
    if (pending === undefined) {
      pending = (async () => {
        const old = reuse.get(key);
        if (old !== undefined && (await Promise.all([old.gzip, old.br].map((v) => v === undefined || blobs.has(v.hash)))).every(Boolean)) return old;
        const data = await blobs.get(entry.hash);
        if (data === undefined) return {};
        const compressed = await compressVariants(data, !entry.type.startsWith('image/') && !entry.type.startsWith('font/') && entry.type !== 'application/wasm');
        const out: { gzip?: Variant; br?: Variant } = {};
        for (const name of ['gzip', 'br'] as const) {
          const bytes = compressed[name];
          if (bytes === undefined) continue;
          const hash = createHash('sha256').update(bytes).digest('hex');
          await blobs.put(hash, bytes);
          out[name] = { hash, size: bytes.length };
        }
        return out;
      })();
      made.set(key, pending);
    }
    return pending;
  };
  const todo = Object.entries(manifest.files).filter(([path, e]) => contentType(path).compressible && e.size >= MIN_COMPRESS_SIZE && e.size <= MAX_COMPRESS_SIZE);
  // a few at a time: each holds a file (up to 64 MiB) and its variants in memory
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const entry = todo[next++]![1];
      Object.assign(entry, await variantsOf(entry));
    }
  };
  await Promise.all(Array.from({ length: Math.min(COMPRESS_CONCURRENCY, todo.length) }, worker));
}

/** The manifest production serves now, if any and if it still reads right (only a head start for compression). */
async function productionManifest(db: Db, blobs: BlobStore, projectId: string): Promise<Manifest | undefined> {
  const id = await aliasTarget(db, projectId, PRODUCTION);
  if (id === null) return undefined;
  const d = await db.selectFrom('deployments').select('manifest_hash').where('id', '=', id).executeTakeFirst();
  if (d?.manifest_hash == null) return undefined;
  try {
    const bytes = await blobs.get(d.manifest_hash);
    return bytes === undefined ? undefined : parseManifest(bytes);
  } catch {
    return undefined;
  }
}
