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
  /** the site's own redirects, rewrites and headers (from vercel.json or _redirects/_headers), compiled at deploy time */
  rules?: SiteRules;
}

/**
 * A site's redirects, rewrites and headers as the edge evaluates them: regular expressions on
 * the decoded request path, with conditions, in the order of `platform`'s documentation
 * (see ../rules). Templates (`dest`, header values) use `$1` for a numbered group and `$name`
 * for a named one (from `src` or from a condition's value).
 * `{ platform: 'netlify', routes: [{ kind: 'redirect', src: '^/old/?$', dest: '/new', status: 301 }] }`
 */
export interface SiteRules {
  /** whose order applies: Vercel (headers + redirects, files, rewrites) or Netlify (files unless forced, first match wins) */
  platform: 'vercel' | 'netlify';
  routes: RuleRoute[];
}

export interface RuleRoute {
  /** 'headers': add headers, keep going; 'redirect': answer status + Location; 'rewrite': serve `dest` instead; 'pass': stop the rules before the files (Vercel's /.well-known guard) */
  kind: 'headers' | 'redirect' | 'rewrite' | 'pass';
  /** JavaScript regular expression the decoded request path must match */
  src: string;
  /** every condition must hold (has) / none may (missing) */
  has?: RuleCondition[];
  missing?: RuleCondition[];
  /** redirect and rewrite: the target path or URL template */
  dest?: string;
  /** redirect: 301/302/303/307/308; rewrite: the answer's status when not 200 (Netlify's 404) */
  status?: number;
  /** header name -> value template */
  headers?: [string, string][];
  /** Netlify's `!`: applies even when a file exists at the path */
  force?: boolean;
  /** redirect: the request's query string is added to the Location (default true) */
  keepQuery?: boolean;
  /** where the rule came from, for messages ("vercel.json redirects[2]", "_redirects line 7") */
  origin: string;
}

/** A condition on the request: a header, cookie or query parameter (by key), or the host. */
export interface RuleCondition {
  type: 'header' | 'cookie' | 'query' | 'host';
  /** lower-case for headers; absent for host */
  key?: string;
  /** absent: present with any value; a string: a regular expression the whole value matches; an object: Vercel's operators */
  value?: string | RuleValueMatch;
}

export interface RuleValueMatch {
  eq?: string | number;
  neq?: string;
  inc?: string[];
  ninc?: string[];
  pre?: string;
  suf?: string;
  re?: string;
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
}

export const RULE_KINDS: readonly RuleRoute['kind'][] = ['headers', 'redirect', 'rewrite', 'pass'];
const CONDITION_TYPES: readonly RuleCondition['type'][] = ['header', 'cookie', 'query', 'host'];

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
    const ok =
      Array.isArray(m.immutable) &&
      m.immutable.every(
        (r) => typeof r === 'object' && r !== null && clean(r.prefix) && IMMUTABLE_NAMES.includes(r.names) && (r.except === undefined || (Array.isArray(r.except) && r.except.every(clean))),
      );
    if (!ok) throw new Error('manifest has a malformed immutable rule list');
  }
  if (m.rules !== undefined) checkRules(m.rules);
  return m as Manifest;
}

export function isBlobHash(value: string): boolean {
  return HASH.test(value);
}

/** Throw unless `rules` has the SiteRules shape and every regular expression in it compiles. */
function checkRules(rules: unknown): void {
  const bad = (why: string): never => {
    throw new Error(`manifest has malformed site rules: ${why}`);
  };
  if (typeof rules !== 'object' || rules === null) bad('not an object');
  const r = rules as Partial<SiteRules>;
  if (r.platform !== 'vercel' && r.platform !== 'netlify') bad('unknown platform');
  if (!Array.isArray(r.routes)) bad('no route list');
  const isRegex = (source: unknown): boolean => {
    if (typeof source !== 'string') return false;
    try {
      new RegExp(source);
      return true;
    } catch {
      return false;
    }
  };
  const isCondition = (c: unknown): boolean => {
    if (typeof c !== 'object' || c === null) return false;
    const { type, key, value } = c as RuleCondition;
    if (!CONDITION_TYPES.includes(type) || (type !== 'host' && typeof key !== 'string')) return false;
    return value === undefined || (typeof value === 'string' ? isRegex(value) : typeof value === 'object' && value !== null && (value.re === undefined || isRegex(value.re)));
  };
  for (const [i, route] of (r.routes as unknown[]).entries()) {
    if (typeof route !== 'object' || route === null) bad(`route ${i} is not an object`);
    const x = route as RuleRoute;
    if (!RULE_KINDS.includes(x.kind) || !isRegex(x.src) || typeof x.origin !== 'string') bad(`route ${i} has no kind, src or origin`);
    for (const list of [x.has, x.missing]) if (list !== undefined && !(Array.isArray(list) && list.every(isCondition))) bad(`route ${i} has a malformed condition`);
    if ((x.kind === 'redirect' || x.kind === 'rewrite') && typeof x.dest !== 'string') bad(`route ${i} has no destination`);
    if (x.status !== undefined && !(Number.isInteger(x.status) && x.status >= 200 && x.status <= 599)) bad(`route ${i} has a bad status`);
    if (x.headers !== undefined && !(Array.isArray(x.headers) && x.headers.every((h) => Array.isArray(h) && h.length === 2 && typeof h[0] === 'string' && typeof h[1] === 'string')))
      bad(`route ${i} has malformed headers`);
  }
}
