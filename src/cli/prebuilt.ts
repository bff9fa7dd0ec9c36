import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { Client } from './client.js';
import type { Context } from './command.js';
import type { Deployment } from './deployments.js';
import { waitLiveAfterMove } from './live.js';
import { Failed, formatBytes, UsageError } from './output.js';
import { ProgressBar, Spinner } from './progress.js';

interface LocalFile {
  /** manifest path: relative, '/'-separated */
  key: string;
  path: string;
  size: number;
  hash: string;
}

/** files hashed and uploaded at once */
const CONCURRENCY = 4;
/** hashes per "which are missing?" request, well under the route's body limit */
const ASK_BATCH = 20_000;

/**
 * `slipway deploy --prebuilt <dir>`: hash every file, ask the server which blobs it lacks,
 * stream only those (the server checks each sha256), then create a ready deployment from the
 * file list. A second upload of a barely changed folder sends only the changed files.
 */
export async function deployPrebuilt(ctx: Context, api: Client, project: string, dir: string): Promise<void> {
  const root = resolve(dir);
  const rootStat = await lstat(root).catch(() => undefined);
  if (rootStat?.isDirectory() !== true) throw new UsageError(`${dir} is not a folder.`, 'Point --prebuilt at the folder your build wrote, e.g. --prebuilt dist');
  const spinner = new Spinner(ctx.out);
  spinner.start(`Hashing ${dir}…`);
  const skipped: string[] = [];
  const found = await walk(root, skipped);
  if (found.length === 0) {
    spinner.stop();
    throw new UsageError(`${dir} has no files to deploy.`, 'Build first, then point --prebuilt at the output folder.');
  }
  const files = await mapLimit(found, CONCURRENCY, async (f) => ({ ...f, hash: await hashFile(f.path) }));
  const base = `/api/v1/projects/${encodeURIComponent(project)}`;
  const hashes = [...new Set(files.map((f) => f.hash))];
  const missing = new Set<string>();
  for (let i = 0; i < hashes.length; i += ASK_BATCH) {
    const answer = await api.request<{ missing: string[] }>('POST', `${base}/prebuilt/missing`, { hashes: hashes.slice(i, i + ASK_BATCH) });
    for (const h of answer.missing) missing.add(h);
  }
  spinner.stop();
  for (const path of skipped) ctx.out.note(`Skipped ${path} (not a regular file)`);

  // one upload per missing hash, even when several files share the bytes
  const byHash = new Map(files.map((f) => [f.hash, f]));
  const toSend = [...missing].flatMap((h) => byHash.get(h) ?? []);
  const bytes = toSend.reduce((sum, f) => sum + f.size, 0);
  const bar = new ProgressBar(ctx.out, bytes, `Uploading ${toSend.length} of ${files.length} files`);
  await mapLimit(toSend, CONCURRENCY, async (f) => {
    const counted = async function* () {
      for await (const chunk of createReadStream(f.path)) {
        bar.add((chunk as Buffer).length);
        yield chunk as Buffer;
      }
    };
    await api.upload(`${base}/blobs/${f.hash}`, counted(), f.size);
  });
  bar.stop();
  ctx.out.note(`Uploaded ${toSend.length} of ${files.length} files (${formatBytes(bytes)}); ${files.length - toSend.length} were already on the server.`);

  const v = ctx.values as Record<string, string | boolean | undefined>;
  const uploaded = await api.request<Deployment>('POST', `${base}/prebuilt`, {
    files: Object.fromEntries(files.map((f) => [f.key, { hash: f.hash, size: f.size }])),
    target: v.prod === true ? 'production' : 'preview',
    ...(v.branch === undefined ? {} : { branch: v.branch }),
    ...(v.message === undefined ? {} : { message: v.message }),
  });
  // production or a branch alias moved to it: reported once every edge serves it, as a build is
  const deployment = v.prod === true || v.branch !== undefined ? await waitLiveAfterMove(api, uploaded, ctx) : uploaded;
  ctx.out.result({ deployment, files: files.length, missing: [...missing], uploadedBytes: bytes }, () => undefined);
  if (deployment.status !== 'ready') throw new Failed();
  ctx.out.note(`${ctx.out.green('✓')} Ready: ${deployment.url}${deployment.isProduction ? ' (production)' : ''}`);
}

/** Every regular file under `root` (not .git); symlinks and other specials are skipped and reported. */
async function walk(root: string, skipped: string[]): Promise<Omit<LocalFile, 'hash'>[]> {
  const out: Omit<LocalFile, 'hash'>[] = [];
  const visit = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== '.git') await visit(path);
      } else if (entry.isFile()) {
        out.push({ key: relative(root, path).split(sep).join('/'), path, size: (await lstat(path)).size });
      } else skipped.push(relative(root, path));
    }
  };
  await visit(root);
  return out;
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return results;
}
