import type { FastifySchemaValidationError } from 'fastify/types/schema.js';
import { AppError } from '../errors/index.js';

/**
 * Fastify's ajv options for the routes' schemas. No type coercion: a JSON body's `5` stays a
 * number and is refused where a string is due, instead of becoming "5" (querystring numbers
 * are declared as digit strings for that reason). Additional properties are kept: the hand
 * checks behind the schemas name an unknown field with the list of known ones.
 */
export const AJV_OPTIONS = { customOptions: { coerceTypes: false, allowUnionTypes: true, removeAdditional: false, verbose: true } } as const;

const ARTICLE: Record<string, string> = { string: 'a string', integer: 'an integer', number: 'a number', boolean: 'true or false', object: 'an object', array: 'a list', null: 'null' };
const PART: Record<string, string> = { body: 'body field', querystring: 'query parameter', params: 'path parameter', headers: 'header' };

/**
 * A schema validation failure as our VALIDATION error: the message names the field (and where
 * it is), the hint shows the route's example body or the field's own description.
 * `schema` is the route's schema, for its examples.
 */
export function validationError(errors: readonly FastifySchemaValidationError[], part: string, schema: Record<string, unknown> | undefined): AppError {
  const e = errors[0];
  const example = (schema?.[part] as { examples?: unknown[] } | undefined)?.examples?.[0];
  const exampleHint = example === undefined ? undefined : `For example: ${JSON.stringify(example)}`;
  if (e === undefined) return new AppError('VALIDATION', `The request ${part} is not valid.`, exampleHint === undefined ? undefined : { hint: exampleHint });
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const params = e.params as Record<string, unknown>;
  if (e.keyword === 'required') path.push(String(params.missingProperty));
  const field = path.join('.');
  if (field === '' && part === 'body' && e.keyword === 'type')
    return new AppError('BAD_REQUEST', 'The request body must be a JSON object.', exampleHint === undefined ? undefined : { hint: exampleHint });
  const where = PART[part] ?? part;
  const name = field === '' ? `The ${where === 'header' ? 'headers' : part}` : field;
  let verb: string;
  switch (e.keyword) {
    case 'required':
      verb = 'is required';
      break;
    case 'type':
      verb = `must be ${[params.type]
        .flat()
        .map((t) => ARTICLE[String(t)] ?? String(t))
        .join(' or ')}`;
      break;
    case 'enum':
      verb = `must be one of: ${[params.allowedValues].flat().join(', ')}`;
      break;
    default:
      verb = e.message ?? 'is not valid';
  }
  const message = `${name} ${verb} (${where}).`;
  const own = (e as { parentSchema?: { description?: unknown; examples?: unknown[] } }).parentSchema;
  const described = typeof own?.description === 'string' && e.keyword !== 'required' ? `${field}: ${own.description}.` : undefined;
  const hint = exampleHint ?? (own?.examples?.[0] !== undefined ? `For example: ${field}=${String(own.examples[0])}` : described) ?? 'GET /api/v1/openapi.json describes every endpoint.';
  return new AppError('VALIDATION', message, { hint });
}
