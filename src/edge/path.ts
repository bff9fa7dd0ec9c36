/**
 * Turning what a client sent (request target, Host header) into the keys the edge looks up.
 * Nothing here touches the filesystem: the result is only ever used as a key into a
 * deployment's manifest, so an odd path can at worst miss. We still reject odd paths with 400
 * so probes are visible as bad requests instead of blending in with ordinary 404s.
 */

/** Longest request path (before the query) the edge accepts. */
export const MAX_PATH_LENGTH = 2048;

/**
 * The decoded path of an origin-form request target ("/a/b.html?x" -> "/a/b.html"), or
 * undefined when the target is malformed: not starting with "/", bad percent-encoding, NUL or
 * other control characters, backslashes (raw or %5c), "." or ".." segments (raw or encoded),
 * or longer than MAX_PATH_LENGTH. A double-encoded "%252e" decodes once to a literal "%2e",
 * which is a harmless name that simply does not match any manifest key.
 */
export function requestPath(target: string): string | undefined {
  if (target.charCodeAt(0) !== 47 /* / */) return undefined;
  const length = target.length;
  let end = length;
  let encoded = false;
  for (let i = 1; i < length; i++) {
    const c = target.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) {
      end = i;
      break;
    }
    if (c === 37 /* % */) encoded = true;
    else if (c <= 32 || c === 127 || c === 92 /* \ */) return undefined;
  }
  if (end > MAX_PATH_LENGTH) return undefined;
  let path = end === length ? target : target.slice(0, end);
  if (encoded) {
    const decoded = percentDecode(path);
    if (decoded === undefined || hasForbiddenChar(decoded)) return undefined;
    path = decoded;
  }
  return hasDotSegment(path) ? undefined : path;
}

/** decodeURIComponent, but undefined instead of a throw, and strict about "%" + two hex digits. */
function percentDecode(path: string): string | undefined {
  for (let i = path.indexOf('%'); i !== -1; i = path.indexOf('%', i + 1)) {
    if (!isHex(path.charCodeAt(i + 1)) || !isHex(path.charCodeAt(i + 2))) return undefined;
  }
  try {
    return decodeURIComponent(path);
  } catch {
    return undefined; // percent-encoded bytes that are not UTF-8
  }
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function hasForbiddenChar(path: string): boolean {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c < 32 || c === 127 || c === 92) return true;
  }
  return false;
}

/** True when a "/"-separated path has a "." or ".." segment. */
function hasDotSegment(path: string): boolean {
  for (let i = path.indexOf('/.'); i !== -1; i = path.indexOf('/.', i + 1)) {
    let next = path.charCodeAt(i + 2);
    if (next === 46 /* . */) next = path.charCodeAt(i + 3);
    if (Number.isNaN(next) || next === 47) return true;
  }
  return false;
}

/**
 * An absolute-form request target ("http://host:port/path") split into its host and
 * origin-form path, or undefined when it is not an http(s) URL with a path.
 */
export function splitAbsoluteTarget(target: string): { host: string; path: string } | undefined {
  const match = /^https?:\/\/([^/?#@]+)(\/[^#]*)?$/i.exec(target);
  if (match === null || match[1] === undefined) return undefined;
  return { host: match[1], path: match[2] ?? '/' };
}

/**
 * A Host header as the lookup wants it: lower-case, no port, no trailing dot.
 * Undefined when it is not a plausible host name or IP literal.
 * `normaliseHost("Blog.Example.com:8080") === "blog.example.com"`
 */
export function normaliseHost(header: string): string | undefined {
  let host = header.toLowerCase();
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close === -1) return undefined;
    const rest = host.slice(close + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    host = host.slice(0, close + 1);
    return /^\[[0-9a-f:.]+\]$/.test(host) ? host : undefined;
  }
  const colon = host.indexOf(':');
  if (colon !== -1) {
    if (!/^\d{1,5}$/.test(host.slice(colon + 1))) return undefined;
    host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host.length === 0 || host.length > 253) return undefined;
  return /^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$/.test(host) && !host.includes('..') ? host : undefined;
}

/** Where the edge answers ACME HTTP-01 challenges, for any Host and before any site rule. */
export const ACME_CHALLENGE_PATH = '/.well-known/acme-challenge/';
/** `<prefix>healthz` (the process answers) and `<prefix>readyz` (it has loaded its routes): for every Host, before any site */
export const HEALTH_PREFIX = '/.well-known/slipway/';
