import type { RuleCondition, RuleRoute } from '../manifest/index.js';
import { escapeRegex, headerProblem, netlifyPathRegex } from './pattern.js';
import { RuleError } from './types.js';

/*
 * Netlify's `_redirects` and `_headers` files, parsed from Netlify's documentation (its own
 * parser, @netlify/redirect-parser, needs Node 22). Lines are `from [query=conditions] to
 * [status][!] [Cookie=name]`; `#` starts a comment; the first matching rule wins (the edge
 * keeps that order); `:name` placeholders and a final `*` (the splat) carry into `to` as
 * `:name` / `:splat`.
 */

const MAX_RULES = 10_000;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** a rewrite answers with the target's body and this status */
const REWRITE_STATUSES = new Set([200, 404]);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The rules of a `_redirects` file, in order. Throws RuleError with the line: `_redirects line 4: ...`. */
export function parseRedirects(text: string, file = '_redirects'): RuleRoute[] {
  const routes: RuleRoute[] = [];
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = stripComment(raw).trim();
    if (line === '') continue;
    const where = `${file} line ${index + 1}`;
    if (routes.length >= MAX_RULES) throw new RuleError(`${where}: more than ${MAX_RULES} rules`);
    routes.push(parseRedirectLine(line.split(/\s+/), where));
  }
  return routes;
}

function parseRedirectLine(tokens: string[], where: string): RuleRoute {
  const fail = (why: string): never => {
    throw new RuleError(`${where}: ${why}`);
  };
  const from = tokens.shift()!;
  const has: RuleCondition[] = [];
  const names: string[] = [];

  const fromUrl = /^https?:\/\//i.test(from) ? (safeUrl(from) ?? fail(`"${from}" is not a valid URL`)) : undefined;
  if (fromUrl !== undefined) {
    // a whole-domain rule ("https://old.example.com/* https://example.com/:splat 301!")
    has.push({ type: 'host', value: escapeRegex(fromUrl.hostname) });
  } else if (!from.startsWith('/')) fail(`the rule must start with the path to match ("/old"), not "${from}"`);
  const pattern = netlifyPathRegex(fromUrl === undefined ? from : decodeURI(fromUrl.pathname));
  if (typeof pattern === 'string') return fail(pattern);
  const src = pattern.src;
  names.push(...pattern.names);

  // query conditions come between the path and the target: "/store id=:id /blog/:id 301"
  while (tokens.length > 0 && !isTarget(tokens[0]!)) {
    const token = tokens.shift()!;
    const eq = token.indexOf('=');
    if (eq <= 0) fail(`"${token}" is neither a query condition (key=value or key=:placeholder) nor a target path or URL`);
    const key = token.slice(0, eq);
    const value = token.slice(eq + 1);
    if (value.startsWith(':')) {
      const name = value.slice(1);
      if (!NAME.test(name)) fail(`":${name}" is not a valid placeholder name`);
      if (names.includes(name)) fail(`the placeholder ":${name}" is used twice`);
      names.push(name);
      has.push({ type: 'query', key, value: `(?<${name}>.*)` });
    } else has.push({ type: 'query', key, value: escapeRegex(value) });
  }
  const to = tokens.shift();
  if (to === undefined) return fail('the rule has no target: write "from to [status]", e.g. "/old /new 301"');
  if (/^https?:\/\//i.test(to) && safeUrl(to) === null) fail(`the target "${to}" is not a valid URL`);
  if (headerProblem('Location', to) !== undefined) fail(`the target "${to}" has characters a URL cannot carry`);

  let status = 301;
  let force = false;
  const statusToken = tokens[0] !== undefined && /^\d{3}!?$/.test(tokens[0]) ? tokens.shift()! : undefined;
  if (statusToken !== undefined) {
    force = statusToken.endsWith('!');
    status = Number(statusToken.slice(0, 3));
    if (!REDIRECT_STATUSES.has(status) && !REWRITE_STATUSES.has(status)) fail(`status ${status} is not supported: use 301, 302, 303, 307, 308 (redirects), 200 (rewrite) or 404`);
  }
  for (const token of tokens) {
    const [key = '', value = ''] = token.split('=', 2);
    if (key.toLowerCase() === 'cookie' && value !== '') {
      if (value.includes(',')) fail('only one cookie name per rule is supported ("Cookie=name")');
      has.push({ type: 'cookie', key: value });
    } else if (['country', 'language', 'role'].includes(key.toLowerCase())) fail(`the condition "${key}" is not supported by Slipway`);
    else fail(`unexpected "${token}" after the status; a rule is "from [key=value ...] to [status][!] [Cookie=name]"`);
  }

  const dest = toTemplate(to, names);
  const external = /^https?:\/\//i.test(to);
  const route: RuleRoute = { kind: REDIRECT_STATUSES.has(status) ? 'redirect' : 'rewrite', src, dest, origin: where };
  if (route.kind === 'rewrite') {
    if (!external && !to.startsWith('/')) fail(`a rewrite's target must be a path starting with "/" or an https:// URL, not "${to}"`);
    if (external && !/^https:\/\//i.test(to)) fail(`the target "${to}" is plain http; only https:// URLs can be proxied`);
    if (status !== 200) route.status = status;
  } else route.status = status;
  if (force) route.force = true;
  if (has.length > 0) route.has = has;
  // Netlify passes the request's query on unless the rule matches on the query itself
  if (has.some((c) => c.type === 'query')) route.keepQuery = false;
  return route;
}

/** `/blog/:id/:splat` -> `/blog/$id/$splat`, for placeholders the rule defines; a literal `$` becomes `$$`. */
function toTemplate(to: string, names: string[]): string {
  return to.replace(/\$/g, '$$$$').replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (whole, name: string) => (names.includes(name) ? `$${name}` : whole));
}

function isTarget(token: string): boolean {
  return token.startsWith('/') || /^https?:\/\//i.test(token);
}

function safeUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

/** `#` starts a comment at the start of a line or after whitespace (a URL's "#fragment" is kept). */
function stripComment(line: string): string {
  const at = line.search(/(^|\s)#/);
  return at === -1 ? line : line.slice(0, at);
}

/**
 * The rules of a `_headers` file: a path pattern on its own line, then its headers indented
 * below it (`  X-Frame-Options: DENY`). Every matching block applies; a header named twice is
 * sent once with the values joined by ", ", as Netlify does.
 */
export function parseHeaders(text: string, file = '_headers'): RuleRoute[] {
  const routes: RuleRoute[] = [];
  let current: { route: RuleRoute; values: Map<string, [string, string[]]> } | undefined;
  const finish = () => {
    if (current === undefined) return;
    if (current.values.size === 0) throw new RuleError(`${current.route.origin}: the path has no headers below it (indent them: "  X-Frame-Options: DENY")`);
    current.route.headers = [...current.values.values()].map(([name, values]) => [name, values.join(', ').replace(/\$/g, '$$$$')]);
    routes.push(current.route);
    current = undefined;
  };
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const where = `${file} line ${index + 1}`;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const indented = /^\s/.test(raw);
    if (!indented || trimmed.startsWith('/') || /^https?:\/\//i.test(trimmed)) {
      finish();
      if (routes.length >= MAX_RULES) throw new RuleError(`${where}: more than ${MAX_RULES} rules`);
      const url = /^https?:\/\//i.test(trimmed) ? safeUrl(trimmed) : undefined;
      if (url === null) throw new RuleError(`${where}: "${trimmed}" is not a valid URL`);
      const pattern = netlifyPathRegex(url === undefined ? trimmed : decodeURI(url.pathname));
      if (typeof pattern === 'string') throw new RuleError(`${where}: ${pattern}${indented ? '' : ' (header lines must be indented below a path)'}`);
      const route: RuleRoute = { kind: 'headers', src: pattern.src, origin: where };
      if (url !== undefined) route.has = [{ type: 'host', value: escapeRegex(url.hostname) }];
      current = { route, values: new Map() };
      continue;
    }
    if (current === undefined) throw new RuleError(`${where}: a header before any path; start the block with the path it applies to ("/*")`);
    const colon = trimmed.indexOf(':');
    if (colon <= 0) throw new RuleError(`${where}: "${trimmed}" is not "Name: value"`);
    const name = trimmed.slice(0, colon).trim();
    const value = trimmed.slice(colon + 1).trim();
    const problem = headerProblem(name, value);
    if (problem !== undefined) throw new RuleError(`${where}: ${problem}`);
    const key = name.toLowerCase();
    const entry = current.values.get(key);
    if (entry === undefined) current.values.set(key, [name, [value]]);
    else entry[1].push(value);
  }
  finish();
  return routes;
}
