import type { FastifySchema } from 'fastify';

/**
 * Building blocks of the routes' schemas. Fastify validates params, querystrings, headers and
 * bodies with them (ajv, without type coercion: a JSON body's `5` is not the string "5"), and
 * GET /api/v1/openapi.json is made from the same objects, so the document cannot drift.
 * Response shapes are documentation and test fixtures: the api serializes with JSON.stringify,
 * so a field missing from a response schema is never silently dropped.
 */
export type JsonSchema = Record<string, unknown>;

export interface RouteDoc {
  summary: string;
  description?: string;
  tags: string[];
  params?: JsonSchema;
  querystring?: JsonSchema;
  headers?: JsonSchema;
  body?: JsonSchema;
  /** status -> shape (null: no body) */
  response: Record<number, JsonSchema | null>;
  /** a body fastify does not parse as JSON (raw bytes): documented, checked by the route itself */
  rawBody?: { mediaType: string; description: string };
  /** answers in another media type as well (server-sent events) */
  alsoProduces?: { mediaType: string; description: string };
}

/** Keys a fastify route schema can carry beyond the ones it validates; the OpenAPI builder reads them. */
export type DocumentedSchema = FastifySchema & {
  summary: string;
  description?: string;
  tags: string[];
  'x-response': Record<number, JsonSchema | null>;
  'x-raw-body'?: RouteDoc['rawBody'];
  'x-also-produces'?: RouteDoc['alsoProduces'];
};

/** A route's `schema` option. */
export function route(doc: RouteDoc): DocumentedSchema {
  const out: DocumentedSchema = { summary: doc.summary, tags: doc.tags, 'x-response': doc.response };
  if (doc.description !== undefined) out.description = doc.description;
  if (doc.params !== undefined) out.params = doc.params;
  if (doc.querystring !== undefined) out.querystring = doc.querystring;
  if (doc.headers !== undefined) out.headers = doc.headers;
  if (doc.body !== undefined) out.body = doc.body;
  if (doc.rawBody !== undefined) out['x-raw-body'] = doc.rawBody;
  if (doc.alsoProduces !== undefined) out['x-also-produces'] = doc.alsoProduces;
  return out;
}

export const str = (description?: string, extra: JsonSchema = {}): JsonSchema => ({ type: 'string', ...(description === undefined || description === '' ? {} : { description }), ...extra });
export const int = (description?: string): JsonSchema => ({ type: 'integer', ...(description === undefined || description === '' ? {} : { description }) });
export const bool = (description?: string): JsonSchema => ({ type: 'boolean', ...(description === undefined || description === '' ? {} : { description }) });
/** the same schema, or null */
export const orNull = (s: JsonSchema): JsonSchema => ({ ...s, type: [s.type as string, 'null'] });
export const isoTime = (description?: string): JsonSchema => str(description, { format: 'date-time' });

export function object(properties: Record<string, JsonSchema>, required: string[] = [], extra: JsonSchema = {}): JsonSchema {
  return { type: 'object', properties, ...(required.length === 0 ? {} : { required }), ...extra };
}

/** Path parameters, each a string. */
export function params(names: Record<string, string>): JsonSchema {
  return object(Object.fromEntries(Object.entries(names).map(([name, description]) => [name, str(description, { minLength: 1 })])), Object.keys(names));
}

/** `?limit=&cursor=` of every list (see src/api/pagination.ts), plus a list's own filters. */
export function pageQuery(filters: Record<string, JsonSchema> = {}): JsonSchema {
  return object({
    limit: str('items per page, 1 to 200 (default 50)', { pattern: '^[0-9]{1,6}$', examples: ['50'] }),
    cursor: str('the nextCursor of the previous page', { maxLength: 1000 }),
    ...filters,
  });
}

/** `{"<name>": [items], "nextCursor": string | null}` */
export function listOf(name: string, item: JsonSchema): JsonSchema {
  return object({ [name]: { type: 'array', items: item }, nextCursor: orNull(str('pass as ?cursor= for the next page; null on the last page')) }, [name, 'nextCursor']);
}

export const errorSchema: JsonSchema = object(
  {
    error: object(
      {
        code: str('a code of the error catalogue (src/errors/index.ts), e.g. VALIDATION'),
        message: str('what went wrong, for people'),
        hint: str('what to do about it'),
      },
      ['code', 'message'],
    ),
  },
  ['error'],
);

/** `Idempotency-Key` of the routes that honour it (src/api/idempotency.ts). */
export const idempotencyHeaders: JsonSchema = object({
  'idempotency-key': str('a key unique to this change (e.g. a UUID): the same key and body within 24 h answers the first answer again, without doing it again', {
    minLength: 1,
    maxLength: 255,
  }),
});

export const userShape = object({ id: str(), email: orNull(str()), name: orNull(str()) }, ['id', 'email', 'name']);
export const teamShape = object({ slug: str(), name: str(), role: str(undefined, { enum: ['owner', 'member', 'viewer'] }) }, ['slug', 'name', 'role']);
export const roleSchema = str('owner, member or viewer', { enum: ['owner', 'member', 'viewer'] });
