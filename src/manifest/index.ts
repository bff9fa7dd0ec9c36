/**
 * A deployment's manifest: every file it serves, keyed by its path relative to the output
 * root ('/'-separated, no leading slash, e.g. "index.html", "assets/app-3f9a1c.js").
 * Bytes live in the blob store under their sha256; the manifest itself is stored as a blob
 * too, so a deployment is fully described by one hash. The edge serves nothing that is not here.
 */
export interface Variant {
  hash: string;
  size: number;
}

export interface ManifestEntry {
  /** sha256 hex of the raw bytes */
  hash: string;
  size: number;
  /** Content-Type to serve, with charset for text */
  type: string;
  /** precompressed variants, present only when smaller than the raw file */
  gzip?: Variant;
  br?: Variant;
}

/** One file of a server bundle: its bytes in the blob store and the mode to give it. */
export interface ServerFile {
  hash: string;
  size: number;
  /** 0o755 or 0o644 */
  mode: number;
}

/**
 * The server half of an SSR deployment (e.g. Next.js `.next/standalone`): every file the
 * server process needs, keyed like manifest files, relative to the bundle root, which is the
 * process's working directory. `entry` is the script to run with node.
 */
export interface ServerBundle {
  entry: string;
  /** arguments after the entry, e.g. React Router's server build for `react-router-serve` */
  args?: string[];
  files: Record<string, ServerFile>;
  /** link path -> relative target; every target stays inside the bundle */
  symlinks?: Record<string, string>;
  /** the Node.js release the deployment was built on, which the runtime starts the server with ("22.23.5"); absent: the runtime's own */
  node?: { version: string };
}

/**
 * Files that never change under their name, so browsers and CDNs may keep them for a year: the
 * framework's hashed asset folders, copied from its row of the framework table when the
 * deployment is packaged. The edge applies them as data; it knows no framework.
 * `{ prefix: '_nuxt/', names: 'all', except: ['_nuxt/builds/'] }`
 */
export interface ImmutableRule {
  /** manifest path prefix, no leading slash ("_nuxt/", "assets/"); "" is the whole site */
  prefix: string;
  /**
   * 'all': the framework fills the folder with fingerprinted files only;
   * 'hashed': only names carrying a hash token (Vite's `index-BxK2_a9Z.js`, webpack's `main.3f9a1c2b.js`);
   * 'esbuild': only names ending in esbuild's `-` + 8 base32 characters (`main-2OBYZ2TY.js`)
   */
  names: 'all' | 'hashed' | 'esbuild';
  /** prefixes below `prefix` left out: files kept under a fixed name (Nuxt's `_nuxt/builds/latest.json`) */
  except?: string[];
}

export const IMMUTABLE_NAMES: readonly ImmutableRule['names'][] = ['all', 'hashed', 'esbuild'];

export interface Manifest {
  version: 1;
  files: Record<string, ManifestEntry>;
  /** the framework's fingerprinted folders; absent on manifests from before the field (then only names that look hashed are) */
  immutable?: ImmutableRule[];
  /** present when the deployment runs a server process; the edge proxies what `files` lacks */
  server?: ServerBundle;
}

const HASH = /^[0-9a-f]{64}$/;

/** Parse and check a manifest read from the blob store. Throws on anything malformed. */
export function parseManifest(json: string | Buffer): Manifest {
  const value = JSON.parse(json.toString()) as unknown;
  if (typeof value !== 'object' || value === null) throw new Error('manifest is not an object');
  const m = value as Partial<Manifest>;
  if (m.version !== 1 || typeof m.files !== 'object' || m.files === null) throw new Error('manifest has no version 1 file table');
  for (const [path, entry] of Object.entries(m.files)) {
    if (path.startsWith('/') || path.split('/').some((s) => s === '' || s === '.' || s === '..') || path.includes('\\') || path.includes('\0')) {
      throw new Error(`manifest path is not clean: ${JSON.stringify(path)}`);
    }
    if (!HASH.test(entry.hash)) throw new Error(`manifest entry ${path} has a bad hash`);
  }
  if (m.immutable !== undefined) {
    const clean = (p: unknown): boolean => typeof p === 'string' && !p.startsWith('/') && !p.includes('\\') && !p.includes('\0');
    const ok = Array.isArray(m.immutable) && m.immutable.every((r) => typeof r === 'object' && r !== null && clean(r.prefix) && IMMUTABLE_NAMES.includes(r.names) && (r.except === undefined || (Array.isArray(r.except) && r.except.every(clean))));
    if (!ok) throw new Error('manifest has a malformed immutable rule list');
  }
  return m as Manifest;
}

export function isBlobHash(value: string): boolean {
  return HASH.test(value);
}
