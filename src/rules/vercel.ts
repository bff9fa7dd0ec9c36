import { getTransformedRoutes } from '@vercel/routing-utils';
import type { RuleCondition, RuleRoute, SiteRules } from '../manifest/index.js';
import { headerProblem, unsafeRegex } from './pattern.js';
import { RuleError } from './types.js';

/*
 * vercel.json's routing fields, compiled by Vercel's own parser (@vercel/routing-utils'
 * getTransformedRoutes) into the routes Vercel's edge runs: path-to-regexp sources as regular
 * expressions, `:param` substitutions as `$1`, `permanent` as 308/307, cleanUrls and
 * trailingSlash as redirects. Using it keeps the pattern syntax and its corner cases exactly
 * Vercel's; we check the shape of each rule first (its errors assume well-typed input) and say
 * which rule is wrong in our words.
 */

const ROUTING_FIELDS = ['redirects', 'rewrites', 'headers', 'cleanUrls', 'trailingSlash'] as const;
const REDIRECT_STATUSES = [301, 302, 303, 307, 308];
const CONDITION_TYPES = ['header', 'cookie', 'query', 'host'];
const MATCH_OPERATORS = new Set(['eq', 'neq', 'inc', 'ninc', 'pre', 'suf', 're', 'gt', 'gte', 'lt', 'lte']);

type Json = Record<string, unknown>;
type CompiledRoute = {
  src?: string;
  dest?: string;
  status?: number;
  headers?: Record<string, string>;
  continue?: boolean;
  check?: boolean;
  has?: RuleCondition[];
  missing?: RuleCondition[];
  handle?: string;
};

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The site rules in a vercel.json's text, or undefined when it has none of the routing fields.
 * Throws RuleError naming the field and rule index: `vercel.json redirects[2]: "source" must start with "/"`.
 */
export function vercelRules(text: string, file = 'vercel.json'): SiteRules | undefined {
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (err) {
    throw new RuleError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(config)) throw new RuleError(`${file} must hold a JSON object`);
  if (config.routes !== undefined) {
    throw new RuleError(`${file}: "routes" (Vercel's legacy routing) is not supported; use "redirects", "rewrites" and "headers"`);
  }
  if (!ROUTING_FIELDS.some((f) => config[f] !== undefined)) return undefined;
  for (const flag of ['cleanUrls', 'trailingSlash'] as const) {
    if (config[flag] !== undefined && typeof config[flag] !== 'boolean') throw new RuleError(`${file}: "${flag}" must be true or false`);
  }
  const lists = { redirects: checkList(config, 'redirects', file), rewrites: checkList(config, 'rewrites', file), headers: checkList(config, 'headers', file) };
  for (const [i, r] of lists.redirects.entries()) checkRedirect(r, `${file} redirects[${i}]`);
  for (const [i, r] of lists.rewrites.entries()) checkRewrite(r, `${file} rewrites[${i}]`);
  for (const [i, r] of lists.headers.entries()) checkHeaders(r, `${file} headers[${i}]`);

  const routes: RuleRoute[] = [];
  const cleanUrls = config.cleanUrls as boolean | undefined;
  const trailingSlash = config.trailingSlash as boolean | undefined;
  if (cleanUrls !== undefined || trailingSlash !== undefined) {
    const origin = [cleanUrls !== undefined ? 'cleanUrls' : '', trailingSlash !== undefined ? 'trailingSlash' : ''].filter(Boolean).join(' and ');
    for (const route of transform({ cleanUrls, trailingSlash }, `${file} ${origin}`)) routes.push(toRule(route, `${file} ${origin}`));
  }
  // one field at a time, so each compiled route is known to come from rule i of its field
  for (const field of ['redirects', 'headers', 'rewrites'] as const) {
    const compiled = transform({ [field]: structuredClone(lists[field]) }, `${file} ${field}`).filter((r) => r.handle === undefined);
    if (compiled.length !== lists[field].length) throw new Error(`routing-utils returned ${compiled.length} routes for ${lists[field].length} ${field}`);
    for (const [i, route] of compiled.entries()) routes.push(toRule(route, `${file} ${field}[${i}]`));
  }
  return { platform: 'vercel', routes };
}

function transform(input: Json, where: string): CompiledRoute[] {
  let result: ReturnType<typeof getTransformedRoutes>;
  try {
    result = getTransformedRoutes(input);
  } catch (err) {
    throw new RuleError(`${where}: ${(err as Error).message}`);
  }
  if (result.error !== null) throw new RuleError(`${where}: ${result.error.message}`);
  return (result.routes ?? []) as CompiledRoute[];
}

function toRule(route: CompiledRoute, origin: string): RuleRoute {
  if (route.src === undefined) throw new Error(`routing-utils returned a route without src for ${origin}`);
  const base: RuleRoute = { kind: 'pass', src: route.src, origin };
  if (route.has !== undefined) base.has = route.has;
  if (route.missing !== undefined) base.missing = route.missing;
  const location = route.headers?.Location;
  if (route.status !== undefined && location !== undefined && route.dest === undefined) return { ...base, kind: 'redirect', dest: location, status: route.status };
  if (route.dest !== undefined) return { ...base, kind: 'rewrite', dest: route.dest, ...(route.status === undefined ? {} : { status: route.status }) };
  if (route.headers !== undefined && route.continue === true) {
    // "$" in a value is a literal unless routing-utils made it a reference to a `:param`
    return { ...base, kind: 'headers', headers: Object.entries(route.headers) };
  }
  return base;
}

function checkList(config: Json, field: 'redirects' | 'rewrites' | 'headers', file: string): Json[] {
  const list = config[field];
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new RuleError(`${file}: "${field}" must be an array`);
  if (list.length > 2048) throw new RuleError(`${file}: "${field}" has ${list.length} rules; at most 2048 are allowed`);
  list.forEach((rule, i) => {
    if (!isObject(rule)) throw new RuleError(`${file} ${field}[${i}]: must be an object`);
  });
  return list as Json[];
}

function checkSource(rule: Json, where: string): void {
  const { source } = rule;
  if (typeof source !== 'string' || !source.startsWith('/')) throw new RuleError(`${where}: "source" must be a path pattern starting with "/" (like "/blog/:slug")`);
  if (source.length > 1024) throw new RuleError(`${where}: "source" is longer than 1024 characters`);
  const unsafe = unsafeRegex(source);
  if (unsafe !== undefined) throw new RuleError(`${where}: "source" ${unsafe}`);
  for (const field of ['has', 'missing'] as const) checkConditions(rule[field], `${where} ${field}`);
}

function checkConditions(list: unknown, where: string): void {
  if (list === undefined) return;
  if (!Array.isArray(list)) throw new RuleError(`${where}: must be an array of conditions`);
  for (const [i, c] of (list as unknown[]).entries()) {
    const at = `${where}[${i}]`;
    if (!isObject(c) || typeof c.type !== 'string' || !CONDITION_TYPES.includes(c.type)) throw new RuleError(`${at}: "type" must be one of ${CONDITION_TYPES.join(', ')}`);
    if (c.type === 'host' ? c.value === undefined : typeof c.key !== 'string' || c.key === '')
      throw new RuleError(c.type === 'host' ? `${at}: a host condition needs "value"` : `${at}: "key" must be a non-empty string`);
    const value = c.value;
    if (value === undefined) continue;
    if (typeof value === 'string') {
      checkRegex(value, `${at} value`);
      continue;
    }
    if (!isObject(value) || Object.keys(value).length === 0 || Object.keys(value).some((k) => !MATCH_OPERATORS.has(k))) {
      throw new RuleError(`${at}: "value" must be a string (a regular expression) or an object of ${[...MATCH_OPERATORS].join(', ')}`);
    }
    if (value.re !== undefined) {
      if (typeof value.re !== 'string') throw new RuleError(`${at}: "value.re" must be a string`);
      checkRegex(value.re, `${at} value.re`);
    }
    for (const op of ['inc', 'ninc'] as const)
      if (value[op] !== undefined && !(Array.isArray(value[op]) && (value[op] as unknown[]).every((v) => typeof v === 'string')))
        throw new RuleError(`${at}: "value.${op}" must be an array of strings`);
    for (const op of ['gt', 'gte', 'lt', 'lte'] as const) if (value[op] !== undefined && typeof value[op] !== 'number') throw new RuleError(`${at}: "value.${op}" must be a number`);
    for (const op of ['neq', 'pre', 'suf'] as const) if (value[op] !== undefined && typeof value[op] !== 'string') throw new RuleError(`${at}: "value.${op}" must be a string`);
    if (value.eq !== undefined && typeof value.eq !== 'string' && typeof value.eq !== 'number') throw new RuleError(`${at}: "value.eq" must be a string or a number`);
  }
}

function checkRegex(source: string, where: string): void {
  try {
    new RegExp(source);
  } catch (err) {
    throw new RuleError(`${where}: not a valid regular expression: ${(err as Error).message}`);
  }
  const unsafe = unsafeRegex(source);
  if (unsafe !== undefined) throw new RuleError(`${where}: ${unsafe}`);
}

function checkRedirect(rule: Json, where: string): void {
  checkSource(rule, where);
  if (typeof rule.destination !== 'string' || rule.destination === '') throw new RuleError(`${where}: "destination" must be a path or URL`);
  if (headerProblem('Location', rule.destination) !== undefined) throw new RuleError(`${where}: "destination" has characters a Location header cannot carry`);
  if (rule.permanent !== undefined && typeof rule.permanent !== 'boolean') throw new RuleError(`${where}: "permanent" must be true or false`);
  if (rule.statusCode !== undefined && !REDIRECT_STATUSES.includes(rule.statusCode as number)) throw new RuleError(`${where}: "statusCode" must be one of ${REDIRECT_STATUSES.join(', ')}`);
}

function checkRewrite(rule: Json, where: string): void {
  checkSource(rule, where);
  const dest = rule.destination;
  if (typeof dest !== 'string' || !(dest.startsWith('/') || /^https?:\/\//i.test(dest))) throw new RuleError(`${where}: "destination" must be a path starting with "/" or an https:// URL`);
  if (/^http:\/\//i.test(dest)) throw new RuleError(`${where}: "destination" ${JSON.stringify(dest)} is plain http; only https:// URLs can be proxied`);
  if (rule.statusCode !== undefined && rule.statusCode !== 404) throw new RuleError(`${where}: "statusCode" on a rewrite can only be 404 here`);
  if (rule.transforms !== undefined) throw new RuleError(`${where}: "transforms" is not supported`);
}

function checkHeaders(rule: Json, where: string): void {
  checkSource(rule, where);
  const list = rule.headers;
  if (!Array.isArray(list) || list.length === 0) throw new RuleError(`${where}: "headers" must be a non-empty array of {"key", "value"}`);
  list.forEach((h: unknown, i) => {
    if (!isObject(h) || typeof h.key !== 'string' || typeof h.value !== 'string') throw new RuleError(`${where} headers[${i}]: must be {"key": string, "value": string}`);
    const problem = headerProblem(h.key, h.value);
    if (problem !== undefined) throw new RuleError(`${where} headers[${i}]: ${problem}`);
  });
}
