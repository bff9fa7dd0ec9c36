import type { RuleCondition, RuleRoute, RuleValueMatch, SiteRules } from '../manifest/index.js';

/**
 * Site rules ready for requests: every regular expression compiled once per deployment, and a
 * literal path prefix per rule so most rules are skipped with one startsWith.
 */
export interface CompiledRules {
  platform: SiteRules['platform'];
  /**
   * Vercel: headers, redirects and guards, in order, before the files; Netlify: the `_headers`
   * blocks (all that match apply)
   */
  early: readonly CompiledRule[];
  /** Vercel: rewrites, after the files; Netlify: the `_redirects` rules (the first that applies wins) */
  late: readonly CompiledRule[];
  /** no early rule looks at anything but the path: its outcome for a path can be remembered */
  earlyByPath: boolean;
  /** no forced late rule looks at anything but the path (Netlify: what a request for a file runs) */
  forcedByPath: boolean;
  /** the edge's per-path memory of those outcomes (bounded by the edge), so a hot path runs no rule twice */
  readonly memo: Map<string, unknown>;
}

export interface CompiledRule {
  readonly route: RuleRoute;
  readonly re: RegExp;
  /** every path the rule matches starts with this ("" when unknown) */
  readonly prefix: string;
  readonly has: readonly CompiledCondition[] | undefined;
  readonly missing: readonly CompiledCondition[] | undefined;
}

interface CompiledCondition {
  readonly type: RuleCondition['type'];
  readonly key: string;
  /** undefined: the key must be present (its value is a parameter named after it) */
  readonly test: ((value: string) => RegExpExecArray | boolean) | undefined;
}

/** What a rule sees of a request; the edge fills the lookups lazily. */
export interface RuleRequest {
  /** decoded path, leading "/" */
  path: string;
  /** lower-case host without port */
  host: string;
  header(name: string): string | undefined;
  cookie(name: string): string | undefined;
  query(name: string): string | undefined;
}

/** A rule's match: the path's groups (index 1..n) and every named value (from the path or a condition). */
export interface RuleMatch {
  groups: readonly (string | undefined)[];
  named: Record<string, string>;
}

export function compileRules(rules: SiteRules): CompiledRules {
  const compile = (route: RuleRoute): CompiledRule => ({
    route,
    re: new RegExp(route.src),
    prefix: literalPrefix(route.src),
    has: route.has?.map(compileCondition),
    missing: route.missing?.map(compileCondition),
  });
  const early: CompiledRule[] = [];
  const late: CompiledRule[] = [];
  for (const route of rules.routes) {
    const isLate = rules.platform === 'vercel' ? route.kind === 'rewrite' : route.kind !== 'headers';
    (isLate ? late : early).push(compile(route));
  }
  const byPath = (r: CompiledRule) => r.has === undefined && r.missing === undefined;
  return { platform: rules.platform, early, late, earlyByPath: early.every(byPath), forcedByPath: late.every((r) => r.route.force !== true || byPath(r)), memo: new Map() };
}

function compileCondition(c: RuleCondition): CompiledCondition {
  const key = c.type === 'host' ? 'host' : c.type === 'header' ? (c.key ?? '').toLowerCase() : (c.key ?? '');
  const value = c.value;
  if (value === undefined) return { type: c.type, key, test: undefined };
  if (typeof value === 'string') {
    // Next.js and Vercel match the whole value: "^" + value + "$"
    const re = new RegExp(`^${value}$`);
    return { type: c.type, key, test: (v) => re.exec(v) ?? false };
  }
  return { type: c.type, key, test: operatorTest(value) };
}

function operatorTest(m: RuleValueMatch): (value: string) => RegExpExecArray | boolean {
  const re = m.re === undefined ? undefined : new RegExp(m.re);
  return (v) => {
    const n = Number(v);
    if (m.eq !== undefined && v !== String(m.eq)) return false;
    if (m.neq !== undefined && v === m.neq) return false;
    if (m.inc !== undefined && !m.inc.includes(v)) return false;
    if (m.ninc?.includes(v)) return false;
    if (m.pre !== undefined && !v.startsWith(m.pre)) return false;
    if (m.suf !== undefined && !v.endsWith(m.suf)) return false;
    if (m.gt !== undefined && !(n > m.gt)) return false;
    if (m.gte !== undefined && !(n >= m.gte)) return false;
    if (m.lt !== undefined && !(n < m.lt)) return false;
    if (m.lte !== undefined && !(n <= m.lte)) return false;
    if (re !== undefined) return re.exec(v) ?? false;
    return true;
  };
}

/** The rule's match on `req` (path, then has, then missing), or undefined. */
export function matchRule(rule: CompiledRule, req: RuleRequest, path = req.path): RuleMatch | undefined {
  const m = matchPath(rule, path);
  return m === undefined ? undefined : matchConditions(rule, req, m);
}

/** The rule's match on the path alone (its conditions unchecked), or undefined. */
export function matchPath(rule: CompiledRule, path: string): RuleMatch | undefined {
  if (rule.prefix !== '' && !path.startsWith(rule.prefix)) return undefined;
  const m = rule.re.exec(path);
  if (m === null) return undefined;
  const named: Record<string, string> = {};
  if (m.groups !== undefined) for (const [k, v] of Object.entries(m.groups)) if (v !== undefined) named[k] = v;
  return { groups: m, named };
}

/**
 * `m` (the rule's path match, which may be shared between requests and is not changed) with
 * the values its has conditions capture, or undefined when a condition fails.
 */
export function matchConditions(rule: CompiledRule, req: RuleRequest, m: RuleMatch): RuleMatch | undefined {
  if (rule.has === undefined && rule.missing === undefined) return m;
  const named: Record<string, string> = { ...m.named };
  if (rule.has !== undefined) {
    for (const c of rule.has) {
      const value = conditionValue(c, req);
      if (value === undefined) return undefined;
      if (c.test === undefined) {
        named[c.key] = value;
        continue;
      }
      const result = c.test(value);
      if (result === false) return undefined;
      if (result !== true && result.groups !== undefined) for (const [k, v] of Object.entries(result.groups)) if (v !== undefined) named[k] = v;
      if (c.type === 'host') named.host = value;
    }
  }
  if (rule.missing !== undefined) {
    for (const c of rule.missing) {
      const value = conditionValue(c, req);
      if (value !== undefined && (c.test === undefined || c.test(value) !== false)) return undefined;
    }
  }
  return { groups: m.groups, named };
}

function conditionValue(c: CompiledCondition, req: RuleRequest): string | undefined {
  switch (c.type) {
    case 'host':
      return req.host;
    case 'header':
      return req.header(c.key);
    case 'cookie':
      return req.cookie(c.key);
    case 'query':
      return req.query(c.key);
  }
}

/**
 * `template` with `$1` (a path group), `$name` (a named value) and `$$` (a literal "$")
 * replaced; each value passes through `encode`. An unknown `$name` stays as written.
 * `substitute('/posts/$1', match, encodePathValue)`
 */
export function substitute(template: string, match: RuleMatch, encode: (value: string) => string): string {
  if (!template.includes('$')) return template;
  return template.replace(/\$(\$|\d+|[A-Za-z_][A-Za-z0-9_]*)/g, (whole, ref: string) => {
    if (ref === '$') return '$';
    if (ref.charCodeAt(0) <= 57) return encode(match.groups[Number(ref)] ?? '');
    const value = match.named[ref];
    return value === undefined ? whole : encode(value);
  });
}

/** A value put into a URL: everything but unreserved characters, sub-delimiters, ":", "@" and "/" percent-encoded. */
export function encodeUrlValue(value: string): string {
  return /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/.test(value) ? value : value.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/]/g, (c) => encodeURIComponent(c));
}

/** A value put into a header: control and non-ASCII characters percent-encoded, so the header stays valid. */
export function encodeHeaderValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : value.replace(/[^\x20-\x7e]/gu, (c) => encodeURIComponent(c));
}

/**
 * The literal text every match of `src` starts with, or "" when there is none to rely on (an
 * alternation at the top level, or the pattern does not start with "^").
 * `literalPrefix('^/old(?:/([^/]+?))$') === '/old'`
 */
export function literalPrefix(src: string): string {
  if (!src.startsWith('^') || hasTopLevelAlternation(src)) return '';
  let prefix = '';
  for (let i = 1; i < src.length; i++) {
    let c = src[i]!;
    if (c === '\\') {
      const next = src[i + 1];
      if (next === undefined || /[A-Za-z0-9]/.test(next)) break; // \d, \w, \b, back-references...
      c = next;
      i++;
    } else if ('.*+?^$()[]{}|'.includes(c)) break;
    // a quantifier after it makes the character optional
    const after = src[i + 1];
    if (after === '?' || after === '*' || after === '{') break;
    prefix += c;
  }
  return prefix;
}

function hasTopLevelAlternation(src: string): boolean {
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') i++;
    else if (inClass) inClass = c !== ']';
    else if (c === '[') inClass = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) return true;
  }
  return false;
}
