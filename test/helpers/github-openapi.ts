import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import { repoRoot } from './paths.js';
import { join } from 'node:path';

/**
 * GitHub's own description of its REST API (@octokit/openapi), read once per process (13 MB):
 * which operation a request is, whether its parameters and body are allowed, and the shape
 * of its answer.
 */
type Json = any;

export interface Operation {
  method: string;
  template: string;
  operationId: string;
  op: Json;
  /** the template's segments; `null` where a parameter goes */
  segments: Array<string | null>;
  names: string[];
}

let loaded: { spec: Json; operations: Operation[] } | undefined;

export function githubSpec(): { spec: Json; operations: Operation[] } {
  if (loaded !== undefined) return loaded;
  const spec = JSON.parse(readFileSync(join(repoRoot, 'node_modules/@octokit/openapi/generated/api.github.com.json'), 'utf8')) as Json;
  const operations: Operation[] = [];
  for (const [template, methods] of Object.entries<Json>(spec.paths)) {
    for (const [method, op] of Object.entries<Json>(methods)) {
      if (typeof op !== 'object' || op.operationId === undefined) continue;
      const parts = template.split('/').slice(1);
      operations.push({
        method: method.toUpperCase(),
        template,
        operationId: op.operationId,
        op,
        segments: parts.map((p) => (p.startsWith('{') ? null : p)),
        names: parts.filter((p) => p.startsWith('{')).map((p) => p.slice(1, -1)),
      });
    }
  }
  // a literal segment wins over a parameter in the same place (/repos/{o}/{r}/deployments over /repos/{o}/{r}/{x})
  operations.sort((a, b) => b.segments.filter((s) => s !== null).length - a.segments.filter((s) => s !== null).length);
  loaded = { spec, operations };
  return loaded;
}

/** The operation a method and path are, with the path parameters; undefined: GitHub has no such route. */
export function matchOperation(method: string, path: string): { operation: Operation; params: Record<string, string> } | undefined {
  const parts = path.split('/').slice(1);
  for (const operation of githubSpec().operations) {
    if (operation.method !== method || operation.segments.length !== parts.length) continue;
    if (!operation.segments.every((s, i) => (s === null ? parts[i] !== '' : s === parts[i]))) continue;
    const values = parts.filter((_, i) => operation.segments[i] === null).map((p) => decodeURIComponent(p));
    return { operation, params: Object.fromEntries(operation.names.map((n, i) => [n, values[i]!])) };
  }
  return undefined;
}

/** Follow `#/components/...` references. */
export function resolveRef(node: Json): Json {
  let n = node;
  for (let i = 0; i < 20 && n !== null && typeof n === 'object' && typeof n.$ref === 'string'; i++) {
    n = (n.$ref as string)
      .slice(2)
      .split('/')
      .reduce((at: Json, key: string) => at?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], githubSpec().spec);
  }
  return n;
}

/**
 * A schema with its references inlined, for ajv. An object that lists its properties and says
 * nothing of others is closed here: GitHub ignores unknown fields, and so would a misspelt one.
 */
function inline(schema: Json, depth = 0, close = true): Json {
  if (depth > 30 || schema === null || typeof schema !== 'object') return schema;
  const s = resolveRef(schema);
  if (Array.isArray(s)) return s.map((x) => inline(x, depth + 1, close));
  const out: Json = {};
  for (const [k, v] of Object.entries<Json>(s)) {
    if (k === 'example' || k === 'examples' || k === 'description') continue;
    out[k] = k === 'properties' ? Object.fromEntries(Object.entries<Json>(v).map(([p, ps]) => [p, inline(ps, depth + 1, close)])) : inline(v, depth + 1, close);
  }
  if (close && out.properties !== undefined && out.additionalProperties === undefined && out.oneOf === undefined && out.anyOf === undefined && out.allOf === undefined)
    out.additionalProperties = false;
  // OpenAPI 3.0's nullable next to allOf/anyOf (no type): ajv only reads it beside a type
  if (out.nullable === true && out.type === undefined) {
    const { nullable: _nullable, ...rest } = out;
    return { anyOf: [rest, { type: 'null' }] };
  }
  return out;
}

const ajv = new Ajv({ strict: false, allErrors: true });
// ajv-formats is CommonJS with a default export; through ESM interop it is the module object
const addFormats = ((addFormatsPlugin as unknown as { default?: unknown }).default ?? addFormatsPlugin) as (a: Ajv) => void;
addFormats(ajv);
const compiled = new Map<string, ValidateFunction>();

/** What is wrong with a request body for this operation (empty: nothing). */
export function bodyProblems(operation: Operation, body: unknown): string[] {
  const schema = operation.op.requestBody?.content?.['application/json']?.schema;
  if (schema === undefined) return body === undefined ? [] : [`${operation.operationId} takes no JSON body`];
  if (body === undefined) return operation.op.requestBody.required === true ? [`${operation.operationId} needs a JSON body`] : [];
  let validate = compiled.get(operation.operationId);
  if (validate === undefined) {
    validate = ajv.compile(inline(schema));
    compiled.set(operation.operationId, validate);
  }
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => `body${e.instancePath} ${e.message ?? 'is not allowed'}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
}

/** What is wrong with the path and query parameters (required ones present, values of their type, nothing unknown). */
export function parameterProblems(operation: Operation, params: Record<string, string>, query: URLSearchParams): string[] {
  const problems: string[] = [];
  const declared = ((operation.op.parameters ?? []) as Json[]).map(resolveRef);
  for (const p of declared) {
    const value = p.in === 'path' ? params[p.name] : p.in === 'query' ? (query.get(p.name) ?? undefined) : undefined;
    if (p.in !== 'path' && p.in !== 'query') continue;
    if (value === undefined) {
      if (p.required === true) problems.push(`${p.in} parameter ${p.name} is required`);
      continue;
    }
    const schema = resolveRef(p.schema) ?? {};
    if ((schema.type === 'integer' && !/^-?\d+$/.test(value)) || (schema.type === 'boolean' && value !== 'true' && value !== 'false'))
      problems.push(`${p.in} parameter ${p.name} must be ${schema.type}, got ${JSON.stringify(value)}`);
    if (Array.isArray(schema.enum) && !schema.enum.includes(value)) problems.push(`${p.in} parameter ${p.name} must be one of ${schema.enum.join(', ')}`);
    if (schema.type === 'integer' && typeof schema.maximum === 'number' && Number(value) > schema.maximum) problems.push(`${p.in} parameter ${p.name} is above ${schema.maximum}`);
  }
  for (const key of query.keys()) if (!declared.some((p) => p.in === 'query' && p.name === key)) problems.push(`query parameter ${key} is not one of ${operation.operationId}'s`);
  return problems;
}

/** What is wrong with an answer body against the operation's success response schema (the generator's own check). */
export function responseProblems(operation: Operation, body: unknown): string[] {
  const { status } = successAnswer(operation);
  const schema = resolveRef(operation.op.responses[String(status)])?.content?.['application/json']?.schema;
  if (schema === undefined) return [];
  const validate = ajv.compile(inline(schema, 0, false));
  return validate(body) ? [] : (validate.errors ?? []).map((e) => `answer${e.instancePath} ${e.message}`);
}

/** The operation's success answer: its status and a minimal body its schema allows. */
export function successAnswer(operation: Operation): { status: number; body: Json } {
  const codes = Object.keys(operation.op.responses).filter((c) => /^2\d\d$/.test(c));
  const status = Number(codes.sort()[0] ?? 200);
  const schema = resolveRef(operation.op.responses[String(status)])?.content?.['application/json']?.schema;
  return { status, body: schema === undefined ? undefined : minimal(schema) };
}

/** The smallest value a schema allows: required properties only, first choices, empty arrays. */
export function minimal(schema: Json, depth = 0): Json {
  const s = resolveRef(schema) ?? {};
  if (depth > 12) return null;
  if (s.nullable === true && depth > 0) return null;
  if (Array.isArray(s.allOf)) return Object.assign({}, ...s.allOf.map((x: Json) => minimal(x, depth + 1)));
  if (Array.isArray(s.oneOf) || Array.isArray(s.anyOf)) return minimal((s.oneOf ?? s.anyOf)[0], depth + 1);
  if (Array.isArray(s.enum)) return s.enum[0];
  switch (s.type) {
    case 'object': {
      const out: Json = {};
      for (const name of (s.required ?? []) as string[]) out[name] = minimal(s.properties?.[name] ?? {}, depth + 1);
      return out;
    }
    case 'array':
      return [];
    case 'integer':
    case 'number':
      return 1;
    case 'boolean':
      return false;
    case 'string':
      if (s.format === 'date-time') return new Date().toISOString();
      if (s.format === 'uri') return 'https://api.github.test/x';
      return 'x';
    default:
      return null;
  }
}
