import { bool, idempotencyHeaders, int, isoTime, listOf, object, orNull, pageQuery, params, route, str, type JsonSchema } from './common.js';

const nullableInt = (d: string) => orNull(int(d));
const nullableStr = (d: string) => orNull(str(d));

/** The settings of a project, as POST and PATCH take them (checked by src/projects; unknown ones are refused there with the list). */
const settings: Record<string, JsonSchema> = {
  productionBranch: str('the branch whose pushes go to production (default main)', { examples: ['main'] }),
  rootDirectory: nullableStr('the folder of the app inside the repository'),
  installCommand: nullableStr('replaces the detected install command'),
  buildCommand: nullableStr('replaces the detected build command'),
  outputDirectory: nullableStr('the folder the build writes ("." for the root)'),
  buildTimeoutSeconds: nullableInt('1 to 86400'),
  serverMemoryMb: nullableInt('memory of the SSR server, MiB'),
  serverRequestTimeoutSeconds: nullableInt('longest SSR request, seconds'),
  buildMemoryMb: nullableInt('MiB'),
  buildDiskMb: nullableInt('MiB'),
  buildPids: nullableInt('processes and threads'),
  buildCpuShares: nullableInt('shares'),
  serverPids: nullableInt('processes and threads'),
  serverCpuShares: nullableInt('shares'),
  nodeVersion: nullableStr('a Node.js version or range, e.g. "22"'),
  hstsMaxAge: nullableInt('seconds'),
  externalRewrites: orNull(bool('let rewrites proxy to other hosts')),
  previewsEnabled: orNull(bool('build a preview for every branch and pull request (null or unset: true)')),
  previewBranches: orNull(object({ include: { type: 'array', items: str('a glob') }, exclude: { type: 'array', items: str('a glob') } })),
  ignoredBuildStep: orNull(object({ paths: { type: 'array', items: str('a path or glob') }, command: str('exit 0 skips the build') })),
  forkPreviews: orNull(bool('build pull requests from forks, without the project variables (null or unset: false)')),
};

export const projectShape = object(
  {
    id: str(),
    name: str(),
    team: nullableStr('the owning team'),
    repoUrl: str(),
    productionBranch: str(),
    rootDirectory: nullableStr(''),
    installCommand: nullableStr(''),
    buildCommand: nullableStr(''),
    outputDirectory: nullableStr(''),
    buildTimeoutSeconds: int(),
    serverMemoryMb: nullableInt(''),
    serverRequestTimeoutSeconds: int(),
    buildMemoryMb: nullableInt(''),
    buildDiskMb: nullableInt(''),
    buildPids: nullableInt(''),
    buildCpuShares: nullableInt(''),
    serverPids: nullableInt(''),
    serverCpuShares: int(),
    nodeVersion: nullableStr(''),
    hstsMaxAge: nullableInt(''),
    externalRewrites: bool(),
    previewsEnabled: bool(),
    previewBranches: orNull(object({})),
    ignoredBuildStep: orNull(object({})),
    forkPreviews: bool(),
    webhookUrl: str(),
    productionUrl: str(),
    productionDeploymentId: nullableStr('the deployment production serves'),
    createdAt: isoTime(),
  },
  ['id', 'name', 'team', 'repoUrl', 'productionBranch', 'webhookUrl', 'productionUrl', 'productionDeploymentId', 'createdAt'],
);

const deploymentStatus = str('queued, building, deploying, ready, failed or canceled', { enum: ['queued', 'building', 'deploying', 'ready', 'failed', 'canceled'] });

export const deploymentShape = object(
  {
    id: str(),
    projectId: str(),
    project: str(),
    status: deploymentStatus,
    target: str(undefined, { enum: ['production', 'preview'] }),
    environment: str('production, preview or a named environment'),
    trigger: str(),
    pullRequest: nullableInt('the pull request number'),
    source: orNull(object({ provider: str(), repo: nullableStr(''), headRepo: nullableStr('') })),
    isProduction: bool(),
    branch: nullableStr(''),
    commit: object({ sha: str(), message: nullableStr(''), author: nullableStr('') }, ['sha']),
    url: str('this deployment, forever'),
    branchUrl: nullableStr('its branch preview'),
    pullRequestUrl: nullableStr('its pull request preview'),
    gitHost: orNull(
      object({ provider: str(), repo: str(), state: nullableStr(''), sent: { type: 'array', items: str() }, attempts: int(), lastError: nullableStr(''), nextAttemptAt: orNull(isoTime()) }),
    ),
    stats: orNull(object({ filesTotal: int(), filesUploaded: int(), bytesUploaded: int() })),
    timings: orNull(object({}, [], { additionalProperties: { type: 'number' } })),
    build: orNull(object({})),
    server: object({}),
    error: orNull(object({ code: str(), phase: nullableStr(''), message: nullableStr('') }, ['code'])),
    integrityError: nullableStr(''),
    attempts: int(),
    createdAt: orNull(isoTime()),
    startedAt: orNull(isoTime()),
    finishedAt: orNull(isoTime()),
    liveAt: orNull(isoTime()),
  },
  ['id', 'project', 'status', 'target', 'environment', 'isProduction', 'branch', 'commit', 'url', 'createdAt'],
);

const projectParams = params({ project: 'the project name (or id)' });
const tags = ['projects'];

export const projectSchemas = {
  create: route({
    summary: 'Create a project',
    description: 'The webhook secret is in this answer only. Honours Idempotency-Key.',
    tags,
    headers: idempotencyHeaders,
    body: object(
      { name: str('lower case letters, digits and "-"', { examples: ['my-site'] }), repoUrl: str('where to clone from'), team: str('the team slug (needed when you are in several)'), ...settings },
      [],
      { examples: [{ name: 'my-site', repoUrl: 'https://github.com/acme/my-site.git' }] },
    ),
    response: { 201: { ...projectShape, properties: { ...(projectShape.properties as object), webhookSecret: str('for the git host webhook; shown once') } } },
  }),
  list: route({
    summary: 'List the projects you can see',
    tags,
    querystring: pageQuery({ team: str('only the projects of this team') }),
    response: { 200: listOf('projects', projectShape) },
  }),
  show: route({ summary: 'Show a project', tags, params: projectParams, response: { 200: projectShape } }),
  update: route({
    summary: 'Change project settings',
    description: 'Deployments made from now on use them; existing ones keep theirs. An unknown setting is refused.',
    tags,
    params: projectParams,
    body: object(settings, [], { examples: [{ buildCommand: 'npm run build' }] }),
    response: { 200: projectShape },
  }),
  remove: route({ summary: 'Delete a project, its deployments, aliases, variables and domains', tags, params: projectParams, response: { 204: null } }),
  deploy: route({
    summary: 'Deploy a branch, tag or commit',
    description: 'Honours Idempotency-Key.',
    tags: ['deployments'],
    params: projectParams,
    headers: idempotencyHeaders,
    body: object({ ref: str('a branch, tag or commit sha (default: the production branch)'), target: str('production or preview') }, [], { examples: [{ ref: 'main', target: 'production' }] }),
    response: { 202: deploymentShape },
  }),
  deployments: route({
    summary: "List a project's deployments, newest first",
    tags: ['deployments'],
    params: projectParams,
    querystring: pageQuery({
      branch: str('only deployments of this branch'),
      status: { ...deploymentStatus, description: 'only deployments in this state' },
      environment: str('only deployments for this environment (production, preview or a named one)'),
    }),
    response: { 200: listOf('deployments', deploymentShape) },
  }),
  rollback: route({
    summary: 'Move production back to the previous (or a given) ready deployment',
    tags: ['deployments'],
    params: projectParams,
    body: object({ deploymentId: str('the deployment to go back to') }, [], { examples: [{ deploymentId: 'dk3v9x0q2m7a' }] }),
    response: { 200: deploymentShape },
  }),
};
