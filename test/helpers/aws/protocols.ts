import { type ApiModel, matchUri, type Operation, resolve, type ShapeRef, specificity } from './model.js';
import { escapeXml, parseXml, type XmlElement } from './xml.js';

/**
 * The four wire protocols of the services the stand-in plays (rest-json: Lambda, rest-xml:
 * CloudFront, json: ACM, query: STS and IAM), read and written the way the model says.
 * Type mismatches found while decoding go into `problems`, as the model check's do.
 */
export interface WireRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class UnknownOperation extends Error {}

/** Which operation a request is, and its input decoded by the operation's input shape. */
export function decodeRequest(model: ApiModel, req: WireRequest, problems: string[]): { op: Operation; input: Record<string, unknown> } {
  const protocol = model.metadata.protocol;
  if (protocol === 'query') {
    const form = new URLSearchParams(req.body.toString('utf8'));
    const action = form.get('Action') ?? '';
    const op = model.operations[action];
    if (op === undefined) throw new UnknownOperation(`no operation Action=${action} in the ${model.metadata.endpointPrefix} model`);
    if (form.get('Version') !== model.metadata.apiVersion) problems.push(`Version must be ${model.metadata.apiVersion}, got ${form.get('Version')}`);
    form.delete('Action');
    form.delete('Version');
    const tree = queryTree(form);
    return { op, input: op.input === undefined ? {} : (decodeQuery(model, op.input, tree, '', problems) as Record<string, unknown>) };
  }
  if (protocol === 'json') {
    const target = String(req.headers['x-amz-target'] ?? '');
    const [prefix, action = ''] = target.split('.');
    const op = prefix === model.metadata.targetPrefix ? model.operations[action] : undefined;
    if (op === undefined) throw new UnknownOperation(`no operation X-Amz-Target=${target} in the ${model.metadata.endpointPrefix} model`);
    const body = req.body.length === 0 ? {} : JSON.parse(req.body.toString('utf8'));
    return { op, input: op.input === undefined ? {} : (decodeJson(model, op.input, body, '', problems) as Record<string, unknown>) };
  }
  let best: { op: Operation; labels: Record<string, string>; score: number } | undefined;
  for (const op of Object.values(model.operations)) {
    const template = op.http?.requestUri ?? '/';
    const labels = matchUri(template, req.method, op, req.path, req.query);
    if (labels !== undefined && (best === undefined || specificity(template) > best.score)) best = { op, labels, score: specificity(template) };
  }
  if (best === undefined) throw new UnknownOperation(`no ${model.metadata.endpointPrefix} operation is ${req.method} ${req.path}`);
  const { op, labels } = best;
  const input: Record<string, unknown> = {};
  const shape = op.input === undefined ? undefined : resolve(model, op.input);
  for (const [name, member] of Object.entries(shape?.members ?? {})) {
    const wireName = member.locationName ?? name;
    const full = resolve(model, member);
    if (member.location === 'uri') input[name] = labels[wireName];
    else if (member.location === 'querystring') {
      const values = req.query.getAll(wireName);
      if (values.length > 0) input[name] = full.type === 'list' ? values.map((v) => fromText(model, full.member ?? {}, v, name, problems)) : fromText(model, full, values[0] as string, name, problems);
    } else if (member.location === 'header') {
      const value = req.headers[wireName.toLowerCase()];
      if (typeof value === 'string') input[name] = fromText(model, full, value, name, problems);
    }
  }
  if (req.body.length > 0 && shape !== undefined) {
    if (protocol === 'rest-xml') {
      const payload = shape.payload === undefined ? undefined : shape.members?.[shape.payload];
      if (payload === undefined) problems.push(`${op.name} takes no body`);
      else input[shape.payload as string] = decodeXml(model, payload, parseXml(req.body.toString('utf8')), shape.payload as string, problems);
    } else {
      const body = JSON.parse(req.body.toString('utf8')) as Record<string, unknown>;
      for (const [name, value] of Object.entries(body)) {
        const member = shape.members?.[name];
        if (member === undefined || member.location !== undefined) input[name] = value;
        else input[name] = decodeJson(model, member, value, name, problems);
      }
    }
  }
  return { op, input };
}

function fromText(model: ApiModel, ref: ShapeRef, text: string, path: string, problems: string[]): unknown {
  const shape = resolve(model, ref);
  switch (shape.type) {
    case 'integer':
    case 'long':
      if (/^-?\d+$/.test(text)) return Number(text);
      break;
    case 'float':
    case 'double':
      if (text.trim() !== '' && !Number.isNaN(Number(text))) return Number(text);
      break;
    case 'boolean':
      if (text === 'true' || text === 'false') return text === 'true';
      break;
    case 'timestamp': {
      const when = /^\d+(\.\d+)?$/.test(text) ? new Date(Number(text) * 1000) : new Date(text);
      if (!Number.isNaN(when.getTime())) return when;
      break;
    }
    case 'blob':
      return Buffer.from(text, 'base64');
    case 'string':
      return text;
    default:
      problems.push(`${path}: a ${shape.type} cannot be given as text`);
      return text;
  }
  problems.push(`${path}: ${JSON.stringify(text)} is not a ${shape.type}`);
  return text;
}

function decodeJson(model: ApiModel, ref: ShapeRef, value: unknown, path: string, problems: string[]): unknown {
  const shape = resolve(model, ref);
  if (shape.type === 'structure' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape.members?.[k] === undefined ? v : decodeJson(model, shape.members[k] as ShapeRef, v, `${path}.${k}`, problems)]));
  }
  if (shape.type === 'list' && Array.isArray(value)) return value.map((v, i) => decodeJson(model, shape.member ?? {}, v, `${path}[${i}]`, problems));
  if (shape.type === 'map' && value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decodeJson(model, shape.value ?? {}, v, `${path}.${k}`, problems)]));
  }
  if (shape.type === 'blob' && typeof value === 'string') return Buffer.from(value, 'base64');
  if (shape.type === 'timestamp' && (typeof value === 'number' || typeof value === 'string')) return typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return value;
}

function decodeXml(model: ApiModel, ref: ShapeRef, el: XmlElement, path: string, problems: string[]): unknown {
  const shape = resolve(model, ref);
  if (shape.type === 'structure') {
    const out: Record<string, unknown> = {};
    for (const child of el.children) {
      const entry = Object.entries(shape.members ?? {}).find(([name, m]) => (m.locationName ?? name) === child.name);
      if (entry === undefined) {
        out[child.name] = child.text; // kept so the model check names it
        continue;
      }
      const [name, member] = entry;
      const full = resolve(model, member);
      if (full.type === 'list' && full.flattened === true) ((out[name] ??= []) as unknown[]).push(decodeXml(model, full.member ?? {}, child, `${path}.${name}`, problems));
      else out[name] = decodeXml(model, member, child, `${path}.${name}`, problems);
    }
    return out;
  }
  if (shape.type === 'list') {
    const itemName = shape.member?.locationName ?? 'member';
    return el.children.map((child, i) => {
      if (child.name !== itemName) problems.push(`${path}[${i}]: element <${child.name}> where the model has <${itemName}>`);
      return decodeXml(model, shape.member ?? {}, child, `${path}[${i}]`, problems);
    });
  }
  if (el.children.length > 0) problems.push(`${path}: a ${shape.type} holds no elements`);
  return fromText(model, shape, el.text, path, problems);
}

interface QueryNode {
  text?: string;
  kids: Map<string, QueryNode>;
}

function queryTree(form: URLSearchParams): QueryNode {
  const root: QueryNode = { kids: new Map() };
  for (const [key, value] of form) {
    let node = root;
    for (const part of key.split('.')) {
      let next = node.kids.get(part);
      if (next === undefined) node.kids.set(part, (next = { kids: new Map() }));
      node = next;
    }
    node.text = value;
  }
  return root;
}

function numbered(node: QueryNode | undefined): QueryNode[] {
  return [...(node?.kids ?? new Map<string, QueryNode>())].sort(([a], [b]) => Number(a) - Number(b)).map(([, n]) => n);
}

function decodeQuery(model: ApiModel, ref: ShapeRef, node: QueryNode, path: string, problems: string[]): unknown {
  const shape = resolve(model, ref);
  if (shape.type === 'structure') {
    const out: Record<string, unknown> = {};
    for (const [key, kid] of node.kids) {
      const member = shape.members?.[key];
      out[key] = member === undefined ? kid.text : decodeQuery(model, member, kid, path === '' ? key : `${path}.${key}`, problems);
    }
    return out;
  }
  if (shape.type === 'list') {
    const items = shape.flattened === true ? numbered(node) : numbered(node.kids.get(shape.member?.locationName ?? 'member'));
    return items.map((n, i) => decodeQuery(model, shape.member ?? {}, n, `${path}[${i}]`, problems));
  }
  if (shape.type === 'map') {
    return Object.fromEntries(
      numbered(node.kids.get('entry')).map((e) => [e.kids.get('key')?.text, decodeQuery(model, shape.value ?? {}, e.kids.get('value') ?? { kids: new Map() }, path, problems)]),
    );
  }
  return fromText(model, shape, node.text ?? '', path, problems);
}

/** The answer to an operation: its output shape written in the service's protocol. */
export function encodeResponse(model: ApiModel, op: Operation, output: Record<string, unknown>, requestId: string): WireResponse {
  const protocol = model.metadata.protocol;
  const headers: Record<string, string> = { 'x-amzn-requestid': requestId };
  const shape = op.output === undefined ? undefined : resolve(model, op.output);
  if (protocol === 'query') {
    const ns = model.metadata.xmlNamespace ?? '';
    const inner = shape === undefined ? '' : encodeXml(model, shape, output, shape.resultWrapper ?? `${op.name}Result`, 'query');
    headers['content-type'] = 'text/xml';
    return { status: 200, headers, body: `<${op.name}Response xmlns="${ns}">${inner}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${op.name}Response>` };
  }
  const body: Record<string, unknown> = {};
  for (const [name, member] of Object.entries(shape?.members ?? {})) {
    const value = output[name];
    if (value === undefined) continue;
    if (member.location === 'header') headers[(member.locationName ?? name).toLowerCase()] = String(value);
    else if (member.location === undefined) body[name] = value;
  }
  const status = op.http?.responseCode ?? 200;
  if (protocol === 'rest-xml') {
    headers['content-type'] = 'text/xml';
    const payloadName = shape?.payload;
    const payload = payloadName === undefined ? undefined : shape?.members?.[payloadName];
    if (payload === undefined || body[payloadName as string] === undefined) return { status, headers, body: '' };
    const ns = model.metadata.xmlNamespace ?? `http://cloudfront.amazonaws.com/doc/${model.metadata.apiVersion}/`;
    const xml = encodeXml(model, payload, body[payloadName as string], payload.locationName ?? (payloadName as string), 'xml');
    return { status, headers, body: `<?xml version="1.0"?>${xml.replace(/^<([\w]+)>/, `<$1 xmlns="${ns}">`)}` };
  }
  headers['content-type'] = protocol === 'json' ? 'application/x-amz-json-1.1' : 'application/json';
  return { status, headers, body: JSON.stringify(encodeJson(model, shape ?? {}, body)) };
}

function encodeJson(model: ApiModel, ref: ShapeRef, value: unknown): unknown {
  const shape = resolve(model, ref);
  if (value instanceof Date) return value.getTime() / 1000;
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (shape.type === 'list' && Array.isArray(value)) return value.map((v) => encodeJson(model, shape.member ?? {}, v));
  if (shape.type === 'map' && value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encodeJson(model, shape.value ?? {}, v)]));
  if (shape.type === 'structure' && value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape.members?.[k] === undefined ? v : encodeJson(model, shape.members[k] as ShapeRef, v)]));
  }
  return value;
}

function encodeXml(model: ApiModel, ref: ShapeRef, value: unknown, name: string, style: 'xml' | 'query'): string {
  const shape = resolve(model, ref);
  if (shape.type === 'structure') {
    const obj = value as Record<string, unknown>;
    let inner = '';
    for (const [memberName, member] of Object.entries(shape.members ?? {})) {
      const v = obj[memberName];
      if (v === undefined || member.location !== undefined) continue;
      const full = resolve(model, member);
      const tag = member.locationName ?? memberName;
      if (full.type === 'list' && full.flattened === true) for (const item of v as unknown[]) inner += encodeXml(model, full.member ?? {}, item, full.member?.locationName ?? tag, style);
      else inner += encodeXml(model, member, v, tag, style);
    }
    return `<${name}>${inner}</${name}>`;
  }
  if (shape.type === 'list') {
    const item = shape.member?.locationName ?? 'member';
    return `<${name}>${(value as unknown[]).map((v) => encodeXml(model, shape.member ?? {}, v, item, style)).join('')}</${name}>`;
  }
  if (shape.type === 'map') {
    const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => `<entry><key>${escapeXml(k)}</key>${encodeXml(model, shape.value ?? {}, v, 'value', style)}</entry>`);
    return `<${name}>${entries.join('')}</${name}>`;
  }
  const text = value instanceof Date ? value.toISOString() : Buffer.isBuffer(value) ? value.toString('base64') : String(value);
  return `<${name}>${escapeXml(text)}</${name}>`;
}

/** An error answer in the service's protocol, the way the SDK's deserializers read it. */
export function encodeError(model: ApiModel, code: string, message: string, status: number, requestId: string): WireResponse {
  const protocol = model.metadata.protocol;
  const headers: Record<string, string> = { 'x-amzn-requestid': requestId, 'x-amzn-errortype': code };
  if (protocol === 'rest-json' || protocol === 'json') {
    headers['content-type'] = 'application/json';
    return { status, headers, body: JSON.stringify({ __type: code, message }) };
  }
  headers['content-type'] = 'text/xml';
  const type = status >= 500 ? 'Receiver' : 'Sender';
  return { status, headers, body: `<ErrorResponse><Error><Type>${type}</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>` };
}
