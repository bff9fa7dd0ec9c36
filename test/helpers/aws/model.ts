import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../paths.js';

/**
 * AWS's own API models (the aws-sdk v2 package ships them as apis/*.min.json): the stand-in
 * matches, decodes and checks every request against them, and checks its own answers too, so a
 * request Slipway sends that real AWS would refuse fails here as well.
 */
export interface ShapeRef {
  shape?: string;
  type?: string;
  members?: Record<string, ShapeRef>;
  member?: ShapeRef;
  key?: ShapeRef;
  value?: ShapeRef;
  required?: string[];
  location?: 'uri' | 'querystring' | 'header' | 'headers' | 'statusCode';
  locationName?: string;
  queryName?: string;
  flattened?: boolean;
  payload?: string;
  resultWrapper?: string;
  xmlNamespace?: { uri: string };
}

export interface Operation {
  name: string;
  http?: { method?: string; requestUri?: string; responseCode?: number };
  input?: ShapeRef;
  output?: ShapeRef;
}

export interface ApiModel {
  metadata: { protocol: string; apiVersion: string; targetPrefix?: string; xmlNamespace?: string; endpointPrefix: string };
  operations: Record<string, Operation>;
  shapes: Record<string, ShapeRef>;
}

export function loadModel(uid: string): ApiModel {
  const raw = JSON.parse(readFileSync(join(repoRoot, 'node_modules', 'aws-sdk', 'apis', `${uid}.min.json`), 'utf8')) as ApiModel;
  for (const [name, op] of Object.entries(raw.operations)) op.name = name;
  return raw;
}

/** A member's full shape: the named shape it points at, with the member's own traits on top. In min.json a bare `{}` is a string. */
export function resolve(model: ApiModel, ref: ShapeRef): ShapeRef {
  if (ref.shape === undefined) return ref.type === undefined ? { ...ref, type: 'string' } : ref;
  const base = model.shapes[ref.shape];
  if (base === undefined) throw new Error(`the model has no shape ${ref.shape}`);
  const { shape: _named, ...own } = ref;
  return { ...resolve(model, base), ...own };
}

/** Where a rest-json / rest-xml operation's URI template matches, the URI labels it binds. */
export function matchUri(template: string, method: string, op: Operation, path: string, query: URLSearchParams): Record<string, string> | undefined {
  if ((op.http?.method ?? 'POST') !== method) return undefined;
  const [pathPart = '', queryPart] = template.split('?');
  if (queryPart?.split('&').some((k) => !query.has(k.split('=')[0] ?? ''))) return undefined;
  const names: string[] = [];
  const pattern = pathPart.replace(/[.*()]/g, '\\$&').replace(/\{(\w+)(\+?)\}/g, (_m, name: string, greedy: string) => {
    names.push(name);
    return greedy === '+' ? '(.+)' : '([^/]+)';
  });
  const found = new RegExp(`^${pattern}$`).exec(path);
  if (found === null) return undefined;
  return Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(found[i + 1] ?? '')]));
}

/** Literal characters of a template: when two operations match, the more specific one wins. */
export function specificity(template: string): number {
  return template.replace(/\{[^}]+\}/g, '').length;
}

/**
 * Check a decoded value against its shape: required members, no member the model lacks, types.
 * Returns the problems as readable paths ("DistributionConfig.Origins.Quantity: required").
 */
export function validate(model: ApiModel, ref: ShapeRef, value: unknown, path: string, problems: string[]): void {
  const shape = resolve(model, ref);
  const where = path === '' ? '(root)' : path;
  switch (shape.type) {
    case 'structure': {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        problems.push(`${where}: expected a structure`);
        return;
      }
      const obj = value as Record<string, unknown>;
      for (const name of shape.required ?? []) if (obj[name] === undefined) problems.push(`${join2(path, name)}: required by the model`);
      for (const [name, v] of Object.entries(obj)) {
        if (v === undefined) continue;
        const member = shape.members?.[name];
        if (member === undefined) problems.push(`${join2(path, name)}: not a member of this shape in the model`);
        else validate(model, member, v, join2(path, name), problems);
      }
      return;
    }
    case 'list':
      if (!Array.isArray(value)) problems.push(`${where}: expected a list`);
      else for (const [i, v] of value.entries()) validate(model, shape.member ?? {}, v, `${path}[${i}]`, problems);
      return;
    case 'map':
      if (value === null || typeof value !== 'object') problems.push(`${where}: expected a map`);
      else for (const [k, v] of Object.entries(value)) validate(model, shape.value ?? {}, v, `${path}.${k}`, problems);
      return;
    case 'integer':
    case 'long':
      if (!Number.isInteger(value)) problems.push(`${where}: expected an integer, got ${JSON.stringify(value)}`);
      return;
    case 'float':
    case 'double':
      if (typeof value !== 'number') problems.push(`${where}: expected a number`);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') problems.push(`${where}: expected a boolean, got ${JSON.stringify(value)}`);
      return;
    case 'timestamp':
      if (!(value instanceof Date) || Number.isNaN(value.getTime())) problems.push(`${where}: expected a timestamp`);
      return;
    case 'blob':
      if (!Buffer.isBuffer(value)) problems.push(`${where}: expected a blob`);
      return;
    default:
      if (typeof value !== 'string') problems.push(`${where}: expected a string, got ${JSON.stringify(value)}`);
  }
}

function join2(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}
