import type { ImmutableRule } from '../manifest/index.js';

/**
 * Which files may be cached by browsers and CDNs for a year without revalidation.
 *
 * A false positive (a file that changes under the same name cached for a year) breaks a site
 * for its visitors; a false negative only costs a revalidation round trip that answers 304.
 * So the rule is deliberately narrow:
 * - the deployment's own rules (manifest.immutable), which the worker copied from the
 *   framework's row of the table (src/frameworks/): the folders a framework fills only with
 *   content-hashed files (`_nuxt/`, `_astro/`, `_next/static/` ...), or in which it hashes names
 *   (`assets/` for Vite); the edge knows no framework itself;
 * - for every site, a file name carrying a content hash as a "."- or "-"-separated token:
 *   - lowercase hex, 8-64 characters, with at least one digit and one letter
 *     (webpack `[contenthash]`, Parcel, `app.3f9a1c2b.js`, `main.3f9a1c2b.chunk.js`);
 *   - an 8-character base64url token just before the extension that looks random: it mixes
 *     upper case, lower case and digits with frequent class changes (Vite/Rollup
 *     `index-BxK2_a9Z.css`); under a rule with names: 'hashed' any 8-character token with a
 *     digit or an upper-case letter counts, since that folder is build output.
 * Everything else ("about.html", "logo-v2.png", "banner-Summer24.jpg", "jquery-3.7.1.min.js")
 * revalidates.
 */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
export const REVALIDATE = 'public, max-age=0, must-revalidate';

const HEX_TOKEN = /^[0-9a-f]{8,64}$/;
const BASE64URL_8 = /^[A-Za-z0-9_-]{8}$/;
/** esbuild's default `[name]-[hash]`: 8 characters of its upper-case base32 alphabet */
const ESBUILD_HASH = /-[A-Z2-7]{8}$/;

/** Cache-Control for a manifest path (no leading slash), under the deployment's rules. */
export function cacheControlFor(path: string, rules: readonly ImmutableRule[] = []): string {
  return isFingerprinted(path, rules) ? IMMUTABLE : REVALIDATE;
}

/** `isFingerprinted('_nuxt/entry.abc123.js', [{ prefix: '_nuxt/', names: 'all' }])` → true */
export function isFingerprinted(path: string, rules: readonly ImmutableRule[] = []): boolean {
  const stem = stemOf(path);
  for (const rule of rules) {
    if (!path.startsWith(rule.prefix) || rule.except?.some((prefix) => path.startsWith(prefix)) === true) continue;
    if (rule.names === 'all' && path.length > rule.prefix.length) return true;
    if (stem === undefined) continue;
    if (rule.names === 'esbuild' && ESBUILD_HASH.test(stem)) return true;
    if (rule.names === 'hashed' && hashToken(stem, true)) return true;
  }
  return stem !== undefined && hashToken(stem, false);
}

/** the file name without its extension (and a trailing .map), or undefined when it has no extension */
function stemOf(path: string): string | undefined {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const stem = name.endsWith('.map') ? name.slice(0, -4) : name;
  const dot = stem.lastIndexOf('.');
  return dot <= 0 ? undefined : stem.slice(0, dot); // no extension: not a build asset
}

/** a hash token in the stem; `buildOutput`: the folder holds only build output, so a plainer 8-character token counts */
function hashToken(stem: string, buildOutput: boolean): boolean {
  // hex tokens, anywhere after the first token (or the whole stem when it is long)
  const tokens = stem.split(/[.-]/);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? '';
    if ((i > 0 || (tokens.length === 1 && token.length >= 16)) && HEX_TOKEN.test(token) && /[0-9]/.test(token) && /[a-f]/.test(token)) return true;
  }

  // base64url token of 8 characters right before the extension, after "-" or "."
  if (stem.length < 10) return false;
  const sep = stem.charAt(stem.length - 9);
  if (sep !== '-' && sep !== '.') return false;
  const token = stem.slice(-8);
  if (!BASE64URL_8.test(token)) return false;
  if (buildOutput) return /[0-9A-Z]/.test(token);
  return /[0-9]/.test(token) && /[A-Z]/.test(token) && /[a-z]/.test(token) && classChanges(token) >= 5;
}

/** How often adjacent characters switch between upper, lower, digit and other. */
function classChanges(token: string): number {
  let changes = 0;
  let previous = -1;
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    const cls = c >= 65 && c <= 90 ? 0 : c >= 97 && c <= 122 ? 1 : c >= 48 && c <= 57 ? 2 : 3;
    if (previous !== -1 && cls !== previous) changes++;
    previous = cls;
  }
  return changes;
}
