import { bool, int, isoTime, listOf, object, orNull, pageQuery, params, route, str } from './common.js';
import { deploymentShape } from './projects.js';

const projectParams = params({ project: 'the project name (or id)' });
const keyParams = params({ project: 'the project name (or id)', key: 'the variable name, e.g. API_URL' });
const domainParams = params({ project: 'the project name (or id)', name: 'the host name' });
const deploymentParams = params({ id: 'the deployment id' });
const sha256 = str('sha256 of the bytes, hex', { pattern: '^[0-9a-f]{64}$' });

const envShape = object(
  { key: str(), value: str('always masked'), targets: { type: 'array', items: str(undefined, { enum: ['production', 'preview'] }) }, createdAt: isoTime(), updatedAt: isoTime() },
  ['key', 'value', 'targets'],
);
const domainShape = object(
  {
    name: str(),
    project: str(),
    environment: str(),
    wildcard: bool(),
    redirect: orNull(object({ to: str(), status: int() })),
    status: str('pending-dns, verified, …'),
    statusDetail: orNull(str()),
    todo: orNull(str('what to do next, for people')),
    dns: object({}),
    createdAt: isoTime(),
    updatedAt: isoTime(),
  },
  ['name', 'project', 'status', 'dns'],
);
const logLine = object({ n: int('line number'), at: int('ms since 1970'), text: str() }, ['n', 'at', 'text']);

export const envSchemas = {
  list: route({
    summary: "List a project's variables (values masked)",
    tags: ['env'],
    params: projectParams,
    querystring: pageQuery(),
    response: { 200: { ...listOf('env', envShape), properties: { ...(listOf('env', envShape).properties as object), project: str() } } },
  }),
  set: route({
    summary: 'Create or replace a variable',
    description: 'New deployments copy it; existing ones keep theirs. The value never comes back out.',
    tags: ['env'],
    params: keyParams,
    body: object(
      {
        value: str('the value (up to 64 KiB)'),
        targets: { type: ['array', 'string'], items: str(), description: 'environments: production, preview and/or named ones, a list or one name (default every one)' },
        branch: orNull(str('a preview override for this branch only')),
      },
      [],
      {
        examples: [{ value: 'https://api.example.com', targets: ['production'] }],
      },
    ),
    response: { 200: envShape, 201: envShape },
  }),
  remove: route({
    summary: 'Remove a variable',
    tags: ['env'],
    params: keyParams,
    querystring: object({ target: str("only this environment's value"), branch: str('only the override for this branch') }),
    response: { 204: null },
  }),
  values: route({
    summary: 'Read the values a deployment of one environment gets (members and owners; audited)',
    description: "The environment's values with a branch's overrides, decrypted, for `slipway env pull`. Viewers and deploy tokens are refused.",
    tags: ['env'],
    params: projectParams,
    querystring: object({ environment: str('production (default), preview or a named one'), branch: str("apply this branch's overrides") }),
    response: { 200: object({ project: str(), environment: str(), branch: orNull(str()), values: { type: 'object', additionalProperties: str() } }, ['project', 'environment', 'values']) },
  }),
};

export const domainSchemas = {
  add: route({
    summary: 'Add a custom domain (its first DNS check included)',
    tags: ['domains'],
    params: projectParams,
    body: object(
      {
        name: str('the host name, e.g. www.example.com or *.example.com'),
        redirectTo: orNull(str('redirect to this host instead of serving')),
        redirectStatus: orNull(int('301, 302, 307 or 308')),
        environment: str('production'),
      },
      [],
      { examples: [{ name: 'www.example.com' }] },
    ),
    response: { 201: domainShape },
  }),
  list: route({ summary: "List a project's domains", tags: ['domains'], params: projectParams, querystring: pageQuery(), response: { 200: listOf('domains', domainShape) } }),
  show: route({ summary: 'Show a domain and what DNS it needs', tags: ['domains'], params: domainParams, response: { 200: domainShape } }),
  remove: route({ summary: 'Remove a domain', tags: ['domains'], params: domainParams, response: { 204: null } }),
  verify: route({ summary: 'Check its DNS now', tags: ['domains'], params: domainParams, response: { 200: domainShape } }),
};

export const deploymentSchemas = {
  show: route({ summary: 'Show a deployment', tags: ['deployments'], params: deploymentParams, response: { 200: deploymentShape } }),
  logs: route({
    summary: 'Read build log lines',
    description: 'Lines after `after`; `finished` says no more will come. With Accept: text/event-stream the log streams as server-sent events (id = line number) until the build ends.',
    tags: ['deployments'],
    params: deploymentParams,
    querystring: object({ after: str('the last line number seen (0: from the start)'), limit: str('lines per answer, 1 to 5000 (default 1000)', { pattern: '^[0-9]{1,6}$' }) }),
    response: { 200: object({ deploymentId: str(), status: str(), lines: { type: 'array', items: logLine }, next: int(), finished: bool() }, ['deploymentId', 'status', 'lines', 'next', 'finished']) },
    alsoProduces: { mediaType: 'text/event-stream', description: 'events `line` (a log line) and `end` ({"status"})' },
  }),
  promote: route({ summary: 'Move production to this ready deployment', tags: ['deployments'], params: deploymentParams, response: { 200: deploymentShape } }),
  cancel: route({ summary: 'Cancel a queued or running build', tags: ['deployments'], params: deploymentParams, response: { 200: deploymentShape } }),
  events: route({
    summary: "A project's deployment changes",
    description: 'With Accept: text/event-stream, server-sent events `hello`, `deployment` and `production`; otherwise what a stream starts from.',
    tags: ['deployments'],
    params: projectParams,
    response: { 200: object({ project: str(), productionDeploymentId: orNull(str()), active: { type: 'array', items: deploymentShape } }, ['project', 'productionDeploymentId', 'active']) },
    alsoProduces: { mediaType: 'text/event-stream', description: 'events `hello`, `deployment` (a deployment) and `production` ({"deploymentId"})' },
  }),
};

export const prebuiltSchemas = {
  missing: route({
    summary: 'Which of these blobs the store lacks',
    tags: ['prebuilt'],
    params: projectParams,
    body: object({ hashes: { type: 'array', items: str(), description: 'sha256 hex names of the files' } }, [], {
      examples: [{ hashes: ['9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'] }],
    }),
    response: { 200: object({ missing: { type: 'array', items: sha256 } }, ['missing']) },
  }),
  upload: route({
    summary: 'Upload one file, named by its sha256',
    tags: ['prebuilt'],
    params: params({ project: 'the project name (or id)', hash: 'sha256 of the bytes, hex' }),
    rawBody: { mediaType: 'application/octet-stream', description: 'the bytes; refused unless they hash to the name' },
    response: { 200: object({ hash: sha256, stored: bool() }, ['hash', 'stored']), 201: object({ hash: sha256, size: int(), stored: bool() }, ['hash', 'size', 'stored']) },
  }),
  create: route({
    summary: 'Create a ready deployment from uploaded files (nothing is built)',
    tags: ['prebuilt'],
    params: projectParams,
    body: object(
      {
        files: { type: 'object', description: 'path -> {"hash", "size"}', additionalProperties: object({ hash: str(), size: int() }) },
        target: str('production or preview (default)'),
        branch: str(),
        message: str(),
      },
      [],
      { examples: [{ files: { 'index.html': { hash: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', size: 1234 } }, target: 'production' }] },
    ),
    response: { 201: deploymentShape },
  }),
};

export const systemSchemas = {
  health: route({ summary: 'Health of each role this process runs', tags: ['system'], response: { 200: object({ status: str(), roles: object({}) }, ['status', 'roles']) } }),
  ready: route({
    summary: 'Readiness of this process for a load balancer: 200 when the store answers (and every role it runs is ready), else 503 with the failing checks',
    tags: ['system'],
    response: {
      200: object({ status: str(), checks: object({}, [], { additionalProperties: { type: 'string' } }) }, ['status', 'checks']),
      503: object({ status: str(), checks: object({}, [], { additionalProperties: { type: 'string' } }) }, ['status', 'checks']),
    },
  }),
  openapi: route({ summary: 'This document', tags: ['system'], response: { 200: object({ openapi: str() }, ['openapi']) } }),
  github: route({
    summary: 'GitHub webhook of a project',
    description: 'Signed with the project webhook secret (X-Hub-Signature-256 over the raw body); a delivery id seen before gets the first answer again.',
    tags: ['hooks'],
    params: params({ project: 'the project name' }),
    headers: object({ 'x-hub-signature-256': str('sha256=<hex HMAC of the body>'), 'x-github-event': str('push or ping'), 'x-github-delivery': str('the delivery id') }),
    rawBody: { mediaType: 'application/json', description: 'the GitHub event payload, unchanged (or form-encoded payload=<json>)' },
    response: { 200: object({ ok: bool(), project: str() }), 202: object({ deploymentId: str(), ignored: str('why nothing was deployed') }) },
  }),
  gitlab: route({
    summary: 'GitLab webhook of a project',
    description: 'X-Gitlab-Token must be the project webhook secret; Push Hook and Merge Request Hook build, other events are acknowledged and ignored.',
    tags: ['hooks'],
    params: params({ project: 'the project name' }),
    headers: object({ 'x-gitlab-token': str('the project webhook secret'), 'x-gitlab-event': str('Push Hook or Merge Request Hook'), 'x-gitlab-event-uuid': str('the delivery id') }),
    rawBody: { mediaType: 'application/json', description: 'the GitLab event payload, unchanged' },
    response: { 200: object({ ok: bool(), project: str() }), 202: object({ deploymentId: str(), ignored: str('why nothing was deployed') }) },
  }),
  gitea: route({
    summary: 'Gitea or Forgejo webhook of a project',
    description: 'Signed with the project webhook secret (X-Gitea-Signature: hex HMAC-SHA256 of the raw body); push and pull_request events build.',
    tags: ['hooks'],
    params: params({ project: 'the project name' }),
    headers: object({ 'x-gitea-signature': str('<hex HMAC of the body>'), 'x-gitea-event': str('push or pull_request'), 'x-gitea-delivery': str('the delivery id') }),
    rawBody: { mediaType: 'application/json', description: 'the Gitea event payload, unchanged' },
    response: { 200: object({ ok: bool(), project: str() }), 202: object({ deploymentId: str(), ignored: str('why nothing was deployed') }) },
  }),
};
