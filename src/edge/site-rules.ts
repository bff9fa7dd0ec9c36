import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RuleRoute } from '../manifest/index.js';
import { encodeHeaderValue, encodeUrlValue, matchConditions, matchPath, matchRule, substitute, type CompiledRule, type CompiledRules, type RuleMatch, type RuleRequest } from '../rules/index.js';
import { proxyExternal, type ExternalProxyOptions } from './external-proxy.js';
import { escapeHtml, page } from './pages.js';
import { normaliseHost, requestPath } from './path.js';
import { hasBackend, notFoundWith, withHeaders, type Site } from './site.js';
import type { HostSettings } from './types.js';

/*
 * A request to a site with rules (site.rules set; a site without rules never comes here).
 *
 * Vercel's order (its routes as @vercel/routing-utils compiles them): header rules add headers
 * as they match and redirects answer at once, in the file's order; then a file at the path is
 * served; then rewrites are tried in order, each target served if it is a file, else the next
 * rewrite sees the rewritten path; what is left goes to the server (SSR) or the 404.
 *
 * Netlify's order: every `_headers` block that matches adds its headers; `_redirects` rules
 * are tried top to bottom and the first that matches wins, except that a rule without `!`
 * does not apply where a file exists at the path (it does not shadow the file).
 */

export interface RuleExchange {
  req: IncomingMessage;
  res: ServerResponse;
  site: Site & { rules: CompiledRules };
  settings: HostSettings | undefined;
  /** decoded path and the raw request target (with its query) */
  path: string;
  target: string;
  host: string;
  isHead: boolean;
  /** a method other than GET/HEAD: only a server (or a redirect) can answer it */
  staticOnly: boolean;
  /** came in over HTTPS (x-forwarded-proto of outside rewrites) */
  secure: boolean;
}

/** How the edge answers once the rules have decided; both use the request's own negotiation headers. */
export interface RuleAnswers {
  /** serve `path` of `site` (a view with the rules' headers), or its 404 */
  file(site: Site, path: string): void;
  /** proxy to the deployment's server (req.url may have been rewritten; the rules' headers are set on res) */
  server(site: Site): void;
}

export interface SiteRulesOptions {
  proxy?: ExternalProxyOptions;
  report: (message: string, error?: unknown) => void;
}

/** true when the site has rules, so requests go through serveWithRules */
export function hasRules(site: Site): site is Site & { rules: CompiledRules } {
  return site.rules !== undefined;
}

/** Answer `x` by its site's rules. */
export function serveWithRules(x: RuleExchange, answers: RuleAnswers, opts: SiteRulesOptions): void {
  if (x.site.rules.platform === 'vercel') vercelOrder(x, answers, opts);
  else netlifyOrder(x, answers, opts);
}

/**
 * For the fast paths (./http1-fast.ts, ./h2-static.ts): the file a GET or HEAD of `path` gets
 * when the rules' outcome for that path is remembered and no request header can change it (no
 * redirect, no forced rule, a file at the path): the view with the rules' headers and the file's
 * key. Undefined otherwise, also for a path not seen yet: the usual path runs the rules and
 * remembers them, so the next request for it can come here.
 */
export function rememberedFile(site: Site & { rules: CompiledRules }, path: string): { view: Site; path: string } | undefined {
  const rules = site.rules;
  if (!rules.earlyByPath) return undefined;
  const early = rules.memo.get(path) as EarlyOutcome | undefined;
  if (early === undefined || early.redirect !== undefined) return undefined;
  if (rules.platform === 'vercel') {
    const own = fileAt(site, path);
    return own === undefined ? undefined : { view: early.view, path: own };
  }
  return early.noForcedRule === true && site.files.has(path) ? { view: early.view, path } : undefined;
}

/** What the rules before the files decided for one path, remembered when only the path decides it. */
interface EarlyOutcome {
  view: Site;
  extra: string[];
  redirect: { route: RuleRoute; m: RuleMatch } | undefined;
  /** Netlify: a request for an existing file at this path meets no forced rule */
  noForcedRule?: boolean;
}

const MAX_MEMO_PATHS = 10_000;

function remember<T>(rules: CompiledRules, path: string, value: T): T {
  if (rules.memo.size >= MAX_MEMO_PATHS) rules.memo.clear();
  rules.memo.set(path, value);
  return value;
}

/** an early rule whose pattern matches the path; its conditions are still to be checked */
type Candidate = { rule: CompiledRule; m: RuleMatch };

/**
 * The early rules whose patterns match `path`, in order. Where conditions keep the outcome from
 * being remembered (`byPath` false), these are remembered instead, so a request runs only the
 * conditions of the few rules that can apply.
 */
function earlyCandidates(rules: CompiledRules, path: string): readonly Candidate[] {
  const remembered = rules.earlyByPath ? undefined : (rules.memo.get(path) as Candidate[] | undefined);
  if (remembered !== undefined) return remembered;
  const list: Candidate[] = [];
  for (const rule of rules.early) {
    const m = matchPath(rule, path);
    if (m !== undefined) list.push({ rule, m });
  }
  return rules.earlyByPath ? list : remember(rules, path, list);
}

function vercelEarly(site: Site & { rules: CompiledRules }, rq: RuleRequest): EarlyOutcome {
  const extra: string[] = [];
  for (const candidate of earlyCandidates(site.rules, rq.path)) {
    const rule = candidate.rule;
    const m = matchConditions(rule, rq, candidate.m);
    if (m === undefined) continue;
    const route = rule.route;
    if (route.kind === 'headers') {
      for (const [name, value] of route.headers ?? []) setHeader(extra, name, substitute(value, m, encodeHeaderValue), false);
    } else if (route.kind === 'redirect') return { view: site, extra, redirect: { route, m } };
    else break; // a guard (trailingSlash's /.well-known): no later rule before the files
  }
  return { view: withHeaders(site, extra), extra, redirect: undefined };
}

function vercelOrder(x: RuleExchange, answers: RuleAnswers, opts: SiteRulesOptions): void {
  const { site } = x;
  const rules = site.rules;
  let rq: RuleRequest | undefined;
  let early = rules.earlyByPath ? (rules.memo.get(x.path) as EarlyOutcome | undefined) : undefined;
  if (early === undefined) {
    rq = ruleRequest(x);
    early = vercelEarly(site, rq);
    if (rules.earlyByPath) remember(rules, x.path, early);
  }
  if (early.redirect !== undefined) return redirect(x, early.redirect.route, early.redirect.m);
  const { view, extra } = early;
  const own = fileAt(site, x.path);
  if (own !== undefined) return fileOrServer(x, view, own, extra, answers);
  rq ??= ruleRequest(x);
  let path = x.path;
  let query = rawQuery(x.target);
  let rewritten = false;
  for (const rule of site.rules.late) {
    const m = matchRule(rule, rq, path);
    if (m === undefined) continue;
    const dest = substitute(rule.route.dest ?? '', m, encodeUrlValue);
    if (isExternal(dest)) return external(x, dest, query, extra, opts);
    const next = splitTarget(dest);
    if (next === undefined) return answers.file(view, '\0');
    path = next.path;
    query = mergeQuery(next.query, query);
    rewritten = true;
    if (rule.route.status === 404) return notFound(x, view, path, extra, answers);
    // check: a target that is a file is served; else the next rewrite sees the rewritten path
    const target = fileAt(site, path);
    if (target !== undefined) return fileOrServer(x, view, target, extra, answers);
  }
  if (hasBackend(site)) {
    if (rewritten) x.req.url = `${encodeUrlValue(path)}${query === '' ? '' : `?${query}`}`;
    return toServer(x, view, extra, answers);
  }
  answers.file(view, path);
}

function netlifyOrder(x: RuleExchange, answers: RuleAnswers, opts: SiteRulesOptions): void {
  const { site } = x;
  const rules = site.rules;
  const exists = site.files.has(x.path);
  let rq: RuleRequest | undefined;
  let early = rules.earlyByPath ? (rules.memo.get(x.path) as EarlyOutcome | undefined) : undefined;
  if (early === undefined) {
    rq = ruleRequest(x);
    const extra: string[] = [];
    for (const { rule, m: pathMatch } of earlyCandidates(rules, x.path)) {
      const m = matchConditions(rule, rq, pathMatch);
      if (m !== undefined) for (const [name, value] of rule.route.headers ?? []) setHeader(extra, name, substitute(value, m, encodeHeaderValue), true);
    }
    early = { view: withHeaders(site, extra), extra, redirect: undefined };
    if (rules.earlyByPath) remember(rules, x.path, early);
  }
  const { view, extra } = early;
  // the common request, a file no forced rule touches, runs no rule once remembered
  if (exists && early.noForcedRule === true) return fileOrServer(x, view, x.path, extra, answers);
  rq ??= ruleRequest(x);
  for (const rule of rules.late) {
    if (exists && rule.route.force !== true) continue; // no shadowing of a file without "!"
    const m = matchRule(rule, rq);
    if (m === undefined) continue;
    const route = rule.route;
    if (route.kind === 'redirect') return redirect(x, route, m);
    const query = route.keepQuery === false ? '' : rawQuery(x.target);
    const dest = substitute(route.dest ?? '', m, encodeUrlValue);
    if (isExternal(dest)) return external(x, dest, query, extra, opts);
    const next = splitTarget(dest);
    if (next === undefined) return answers.file(view, '\0');
    if (route.status === 404) return notFound(x, view, next.path, extra, answers);
    if (site.files.has(next.path)) return fileOrServer(x, view, next.path, extra, answers);
    if (!hasBackend(site)) return answers.file(view, next.path);
    const merged = mergeQuery(next.query, query);
    x.req.url = `${encodeUrlValue(next.path)}${merged === '' ? '' : `?${merged}`}`;
    return toServer(x, view, extra, answers);
  }
  if (exists && rules.earlyByPath && rules.forcedByPath) early.noForcedRule = true;
  if (x.staticOnly || (hasBackend(site) && !exists)) return toServer(x, view, extra, answers);
  answers.file(view, x.path);
}

/**
 * The key of the file that answers `path` on Vercel: the path itself, or with trailingSlash on,
 * "/about/" is the page "about.html" (which the site's table knows as "/about").
 */
function fileAt(site: Site, path: string): string | undefined {
  if (site.files.has(path)) return path;
  if (path.length > 1 && path.endsWith('/') && site.files.has(path.slice(0, -1))) return path.slice(0, -1);
  return undefined;
}

function fileOrServer(x: RuleExchange, view: Site, path: string, extra: string[], answers: RuleAnswers): void {
  if (x.staticOnly) toServer(x, view, extra, answers);
  else answers.file(view, path);
}

function toServer(x: RuleExchange, view: Site, extra: string[], answers: RuleAnswers): void {
  // the server's own headers of the same name win (node merges these under the proxied head);
  // a static site's answer here is the edge's own 405 page, which gets none
  if (hasBackend(view)) for (let i = 0; i < extra.length; i += 2) x.res.setHeader(extra[i]!, extra[i + 1]!);
  answers.server(view);
}

/** `path` answered with 404 and the file at `target` as its body (the site's 404 when there is none). */
function notFound(x: RuleExchange, view: Site, target: string, extra: string[], answers: RuleAnswers): void {
  const file = x.site.files.get(target);
  if (file === undefined) return answers.file(view, '\0');
  answers.file(notFoundWith(x.site, file, extra), x.path);
}

function redirect(x: RuleExchange, route: RuleRoute, m: RuleMatch): void {
  const template = route.dest ?? '/';
  let location = substitute(template, m, encodeUrlValue);
  // a path template must stay a path: "/$1" with "//evil.example" asked for is not another site
  if (template.startsWith('/') && !template.startsWith('//') && location.startsWith('//')) location = `/${location.replace(/^\/+/, '')}`;
  const query = rawQuery(x.target);
  if (route.keepQuery !== false && query !== '') location = appendQuery(location, query);
  location = encodeHeaderValue(location);
  const body = Buffer.from(`Redirecting to ${location}\n`);
  x.res.writeHead(route.status ?? 308, ['Location', location, 'Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(body.length), 'x-slipway-deployment', x.site.deploymentId]);
  x.res.end(x.isHead ? undefined : body);
}

function external(x: RuleExchange, dest: string, query: string, extra: string[], opts: SiteRulesOptions): void {
  const refuse = (status: number, title: string, reason: string) => {
    if (x.res.headersSent) return void x.res.destroy();
    const body = page(title, `<p>${escapeHtml(reason)}</p>`);
    x.res.writeHead(status, ['Content-Type', 'text/html; charset=utf-8', 'Content-Length', String(body.length), 'Cache-Control', 'no-store', 'x-slipway-deployment', x.site.deploymentId]);
    x.res.end(x.isHead ? undefined : body);
  };
  let url: URL;
  try {
    url = new URL(dest);
  } catch {
    return refuse(502, '502 Bad Gateway', `This site's rewrite points at ${dest}, which is not a valid URL.`);
  }
  if (x.settings?.externalRewrites !== true) {
    return refuse(
      502,
      'Outside rewrite not allowed',
      `This site rewrites ${x.path} to ${url.origin}, but its project does not allow rewrites to outside URLs. The project's owner can turn on "externalRewrites" in the project settings.`,
    );
  }
  if (query !== '') url.search = mergeQuery(url.search.slice(1), query);
  void proxyExternal(
    x.req,
    x.res,
    url,
    extra,
    (r) => refuse(r.status, r.status === 504 ? '504 Gateway Timeout' : '502 Bad Gateway', `This site's rewrite to ${url.origin} was not proxied: ${r.reason}.`),
    { ...opts.proxy, report: opts.report, proto: x.secure ? 'https' : 'http', host: x.host },
  );
}

function isExternal(dest: string): boolean {
  return /^https?:\/\//i.test(dest);
}

/** a rewrite's target split into its decoded path (checked like a request's) and its raw query */
function splitTarget(dest: string): { path: string; query: string } | undefined {
  const q = dest.indexOf('?');
  const path = requestPath(q === -1 ? dest : dest.slice(0, q));
  if (path === undefined) return undefined;
  return { path, query: q === -1 ? '' : dest.slice(q + 1).replace(/#.*$/, '') };
}

function rawQuery(target: string): string {
  const q = target.indexOf('?');
  return q === -1 ? '' : target.slice(q + 1).replace(/#.*$/, '');
}

/** `first`'s parameters, then those of `second` it does not have */
function mergeQuery(first: string, second: string): string {
  if (first === '') return second;
  if (second === '') return first;
  const have = new URLSearchParams(first);
  const added = [...new URLSearchParams(second)].filter(([k]) => !have.has(k));
  return added.length === 0 ? first : `${first}&${new URLSearchParams(added).toString()}`;
}

/** the request's query added to a redirect's Location, keeping the destination's own parameters */
function appendQuery(location: string, query: string): string {
  const hash = location.indexOf('#');
  const fragment = hash === -1 ? '' : location.slice(hash);
  const base = hash === -1 ? location : location.slice(0, hash);
  const q = base.indexOf('?');
  return q === -1 ? `${base}?${query}${fragment}` : `${base.slice(0, q)}?${mergeQuery(base.slice(q + 1), query)}${fragment}`;
}

/** set `name` in a header list: replace (Vercel: the later rule wins) or join with ", " (Netlify) */
function setHeader(list: string[], name: string, value: string, join: boolean): void {
  const lower = name.toLowerCase();
  for (let i = 0; i < list.length; i += 2) {
    if (list[i]!.toLowerCase() === lower) {
      list[i + 1] = join ? `${list[i + 1]!}, ${value}` : value;
      return;
    }
  }
  list.push(name, value);
}

/** What the rules may ask of the request; each part is read only when a rule needs it. */
function ruleRequest(x: RuleExchange): RuleRequest {
  let query: URLSearchParams | undefined;
  let cookies: Map<string, string> | undefined;
  const header = (name: string): string | undefined => {
    const value = x.req.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };
  return {
    path: x.path,
    host: normaliseHost(x.host) ?? '',
    header,
    query(name) {
      query ??= new URLSearchParams(rawQuery(x.target));
      return query.get(name) ?? undefined;
    },
    cookie(name) {
      if (cookies === undefined) {
        cookies = new Map();
        for (const part of (header('cookie') ?? '').split(';')) {
          const eq = part.indexOf('=');
          if (eq <= 0) continue;
          const key = part.slice(0, eq).trim();
          if (!cookies.has(key)) cookies.set(key, safeDecode(part.slice(eq + 1).trim()));
        }
      }
      return cookies.get(name);
    },
  };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
