/**
 * Small pieces shared by the vercel.json and Netlify compilers: a guard against regular
 * expressions that can take exponential time, Netlify path patterns as regular expressions, and
 * header names and values that a rule may set.
 */

/** unbounded repetitions one pattern may hold: each can multiply the work on a failing match by the input's length */
const MAX_UNBOUNDED = 2;

/**
 * Why `source` (a user-written regular expression, or a fragment of one) could take exponential
 * or high polynomial time on a hostile path or header, or undefined when it looks safe: a
 * quantified group that itself holds a quantifier, like `(a+)+` or `(.*)*`, or more than two
 * unbounded repetitions (`.*x.*y.*`). The edge is shared by every project and a JavaScript
 * regular expression cannot be interrupted, so such a pattern is refused at deploy time. This
 * is a heuristic (an ambiguous alternation under a quantifier, `(a|aa)+`, passes).
 */
export function unsafeRegex(source: string): string | undefined {
  let unbounded = 0;
  // per open group: does it hold a quantifier so far?
  const stack: boolean[] = [];
  let inClass = false;
  let lastGroupHadQuantifier = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      i++;
      lastGroupHadQuantifier = false;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      lastGroupHadQuantifier = false;
    } else if (c === '(') {
      stack.push(false);
      lastGroupHadQuantifier = false;
    } else if (c === ')') {
      lastGroupHadQuantifier = stack.pop() ?? false;
      if (lastGroupHadQuantifier && stack.length > 0) stack[stack.length - 1] = true;
    } else if (c === '*' || c === '+' || c === '{' || (c === '?' && source[i - 1] !== '(' && !isQuantifier(source[i - 1]))) {
      if (lastGroupHadQuantifier && c !== '?') return `the quantified group before position ${i} holds a quantifier itself (like "(a+)+"), which can take exponential time`;
      if ((c === '*' || c === '+' || (c === '{' && /^\{\d+,\}/.test(source.slice(i)))) && ++unbounded > MAX_UNBOUNDED) {
        return `it repeats without bound (*, + or {n,}) more than ${MAX_UNBOUNDED} times, which can take a very long time on a long path or header`;
      }
      if (stack.length > 0) stack[stack.length - 1] = true;
    } else lastGroupHadQuantifier = false;
  }
  return undefined;
}

function isQuantifier(c: string | undefined): boolean {
  return c === '*' || c === '+' || c === '?' || c === '}';
}

/** `text` with every regular-expression metacharacter escaped. */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

const PLACEHOLDER = /^:([A-Za-z_][A-Za-z0-9_]*)$/;

/**
 * A Netlify path pattern as a regular expression source: `:name` matches one segment
 * (captured as `name`), a final `*` matches the rest, possibly empty (captured as `splat`),
 * and a trailing slash is optional, as Netlify ignores it.
 * `netlifyPathRegex('/news/:year/*')` -> `{ src: '^/news/(?<year>[^/]+)(?:/(?<splat>.*))?/?$', names: ['year', 'splat'] }`
 */
export function netlifyPathRegex(path: string): { src: string; names: string[] } | string {
  if (!path.startsWith('/')) return `the path "${path}" does not start with "/"`;
  const segments = path.slice(1).split('/');
  if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop(); // "/about/" is "/about"
  const names: string[] = [];
  let src = '^';
  for (const [i, segment] of segments.entries()) {
    const last = i === segments.length - 1;
    if (segment === '*') {
      if (!last) return `"*" must be the last part of the path "${path}"`;
      names.push('splat');
      src += i === 0 ? '/(?<splat>.*)' : '(?:/(?<splat>.*))?';
      return { src: `${src}$`, names };
    }
    const placeholder = PLACEHOLDER.exec(segment);
    if (placeholder !== null) {
      const name = placeholder[1]!;
      if (names.includes(name)) return `the placeholder ":${name}" appears twice in "${path}"`;
      names.push(name);
      src += `/(?<${name}>[^/]+)`;
    } else {
      if (segment.includes('*')) return `"*" is only allowed as a whole last segment, in "${path}"`;
      src += `/${escapeRegex(segment)}`;
    }
  }
  return { src: src === '^/' ? '^/$' : `${src}/?$`, names };
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** headers that frame the response or the connection, or that the edge owns: a rule cannot set them */
const RESERVED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'trailer', 'te', 'content-encoding', 'date', 'x-slipway-deployment']);

/** Why a rule may not set the header `name: value`, or undefined when it may. */
export function headerProblem(name: string, value: string): string | undefined {
  if (!TOKEN.test(name)) return `"${name}" is not a valid header name`;
  if (RESERVED.has(name.toLowerCase())) return `the header "${name}" is set by the edge and cannot be set by a rule`;
  if (!HEADER_VALUE.test(value)) return `the value of "${name}" has characters a header cannot carry`;
  return undefined;
}
