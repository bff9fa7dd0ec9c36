import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256, sha256File, type BlobStore } from '../blobs/index.js';
import type { LogFn } from '../build/types.js';
import { AppError } from '../errors/index.js';
import type { ImmutableRule, Manifest, ManifestEntry, ServerBundle, SiteRules, Variant } from '../manifest/index.js';
import { compressVariants, MAX_COMPRESS_SIZE, MIN_COMPRESS_SIZE } from './compress.js';
import { contentType } from './content-type.js';
import { walkOutput } from './walk.js';
import { formatBytes, mapLimit } from './util.js';

export { contentType } from './content-type.js';
export { walkOutput, type OutputFile } from './walk.js';
export { packageServer, type PackageServerOptions, type PackageServerResult } from './server.js';
export { compressVariants, MAX_COMPRESS_SIZE, MIN_COMPRESS_SIZE } from './compress.js';

const CONCURRENCY = 8;

export interface PackageOptions {
  outputDir: string;
  blobs: BlobStore;
  /** the project's last manifest: compressed variants of unchanged files are reused from it */
  previous?: Manifest | undefined;
  /** leave out paths (relative, '/'-separated; called for folders too) */
  exclude?: ((relPath: string) => boolean) | undefined;
  log: LogFn;
  /**
   * The output is the project's root itself (a plain HTML site), so node_modules is skipped.
   * Default: true when the folder holds a package.json or .git.
   */
  outputIsRoot?: boolean | undefined;
  /** an SSR deployment's server bundle (already stored with packageServer), recorded in the manifest */
  server?: ServerBundle | undefined;
  /** the framework's fingerprinted folders (its row's `immutable`), recorded for the edge's Cache-Control */
  immutable?: readonly ImmutableRule[] | undefined;
  /** the site's redirects, rewrites and headers (see ../rules), recorded for the edge */
  rules?: SiteRules | undefined;
}

export interface PackageResult {
  manifest: Manifest;
  /** sha256 of the manifest JSON, which is stored as a blob too */
  manifestHash: string;
  filesTotal: number;
  /** manifest files whose raw blob was not in the store yet */
  filesUploaded: number;
  /** every byte written to the store: raw files, variants and the manifest */
  bytesUploaded: number;
  /** files compressed in this run (the others reused the previous manifest's variants, or are not compressible) */
  filesCompressed: number;
}

type Variants = { gzip?: Variant; br?: Variant };

/**
 * Hash every file of a build's output, precompress text, upload only the blobs the store
 * lacks, and store the manifest. Deterministic: the same output gives the same manifestHash.
 * `const { manifestHash } = await packageOutput({ outputDir: build.outputDir, blobs, previous, log })`
 */
export async function packageOutput(opts: PackageOptions): Promise<PackageResult> {
  const { blobs, log } = opts;
  const started = Date.now();
  const outputIsRoot = opts.outputIsRoot ?? ((await exists(join(opts.outputDir, 'package.json'))) || (await exists(join(opts.outputDir, '.git'))));
  const files = await walkOutput(opts.outputDir, { skipDependencies: outputIsRoot, exclude: opts.exclude, log });
  if (files.length === 0) {
    throw new AppError('OUTPUT_NOT_FOUND', 'The output directory has no files to deploy.', {
      hint: 'Check that the build writes files into the output directory, or set outputDirectory to the folder it writes.',
    });
  }

  // a file whose bytes and type did not change compresses the same: reuse last time's result
  const previous = new Map<string, Variants>();
  for (const entry of Object.values(opts.previous?.files ?? {})) {
    previous.set(`${entry.hash} ${entry.type}`, { ...(entry.gzip ? { gzip: entry.gzip } : {}), ...(entry.br ? { br: entry.br } : {}) });
  }

  let bytesUploaded = 0;
  let filesCompressed = 0;
  const uploads = new Map<string, Promise<boolean>>();
  /** store a blob unless it is there; once per hash per run; true when it was written now */
  const upload = (hash: string, size: number, write: () => Promise<boolean>): Promise<boolean> => {
    let pending = uploads.get(hash);
    if (pending === undefined) {
      pending = (async () => {
        if (await blobs.has(hash)) return false;
        const written = await write();
        if (written) bytesUploaded += size;
        return written;
      })();
      uploads.set(hash, pending);
    }
    return pending;
  };

  const variantRuns = new Map<string, Promise<Variants>>();
  const variantsFor = (hash: string, type: string, path: string): Promise<Variants> => {
    const key = `${hash} ${type}`;
    let pending = variantRuns.get(key);
    if (pending === undefined) {
      pending = (async () => {
        const reused = previous.get(key);
        if (reused !== undefined && (await allStored(blobs, reused))) return reused;
        filesCompressed += 1;
        const compressed = await compressVariants(await readFile(path), !type.startsWith('image/') && !type.startsWith('font/') && type !== 'application/wasm');
        const out: Variants = {};
        for (const name of ['gzip', 'br'] as const) {
          const data = compressed[name];
          if (data === undefined) continue;
          const variant = { hash: sha256(data), size: data.length };
          await upload(variant.hash, variant.size, () => blobs.put(variant.hash, data));
          out[name] = variant;
        }
        return out;
      })();
      variantRuns.set(key, pending);
    }
    return pending;
  };

  let filesUploaded = 0;
  const entries = await mapLimit(files, CONCURRENCY, async (file): Promise<[string, ManifestEntry]> => {
    const { size } = await stat(file.path);
    const hash = await sha256File(file.path);
    const { type, compressible } = contentType(file.key);
    if (await upload(hash, size, () => blobs.putFile(hash, file.path))) filesUploaded += 1;
    const entry: ManifestEntry = { hash, size, type };
    if (compressible && size >= MIN_COMPRESS_SIZE && size <= MAX_COMPRESS_SIZE) Object.assign(entry, await variantsFor(hash, type, file.path));
    return [file.key, entry];
  });

  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const manifest: Manifest = {
    version: 1,
    files: Object.fromEntries(entries),
    ...(opts.immutable === undefined || opts.immutable.length === 0 ? {} : { immutable: opts.immutable.map((rule) => ({ ...rule })) }),
    ...(opts.server === undefined ? {} : { server: opts.server }),
    ...(opts.rules === undefined ? {} : { rules: opts.rules }),
  };
  const json = Buffer.from(JSON.stringify(manifest));
  const manifestHash = sha256(json);
  await upload(manifestHash, json.length, () => blobs.put(manifestHash, json));

  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  log(`Packaged ${files.length} file${files.length === 1 ? '' : 's'} in ${seconds}s: ${filesUploaded} new, ${formatBytes(bytesUploaded)} uploaded, ${filesCompressed} compressed`);
  return { manifest, manifestHash, filesTotal: files.length, filesUploaded, bytesUploaded, filesCompressed };
}

async function allStored(blobs: BlobStore, variants: Variants): Promise<boolean> {
  for (const variant of [variants.gzip, variants.br]) {
    if (variant !== undefined && !(await blobs.has(variant.hash))) return false;
  }
  return true;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
