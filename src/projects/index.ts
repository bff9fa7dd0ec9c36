import type { Config } from '../config/index.js';
import { AppError } from '../errors/index.js';
import { newId, newSecret } from '../ids.js';
import type { SecretBox } from '../secrets.js';
import { bumpCounter, type Db, type Project } from '../store/index.js';
import { NODE_SPEC_EXAMPLES, parseNodeSpec } from '../nodejs/index.js';
import { checkFlag, checkIgnoredBuildStep, checkPreviewBranches, previewSettings, type IgnoredBuildStep, type PreviewBranches } from './previews.js';

/** Project names become DNS labels (`<project>.<base>`, `<id>--<project>.<base>`): keep them short and plain. */
const NAME = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

export interface ProjectInput {
  name?: unknown;
  repoUrl?: unknown;
  productionBranch?: unknown;
  rootDirectory?: unknown;
  installCommand?: unknown;
  buildCommand?: unknown;
  outputDirectory?: unknown;
  buildTimeoutSeconds?: unknown;
  serverMemoryMb?: unknown;
  serverRequestTimeoutSeconds?: unknown;
  buildMemoryMb?: unknown;
  buildDiskMb?: unknown;
  buildPids?: unknown;
  buildCpuShares?: unknown;
  serverPids?: unknown;
  serverCpuShares?: unknown;
  nodeVersion?: unknown;
  hstsMaxAge?: unknown;
  externalRewrites?: unknown;
  previewsEnabled?: unknown;
  previewBranches?: unknown;
  ignoredBuildStep?: unknown;
  forkPreviews?: unknown;
}

/** The settings a project can change after it is created (PATCH), and the columns they live in. */
export interface ProjectSettings {
  productionBranch: string;
  rootDirectory: string | null;
  installCommand: string | null;
  buildCommand: string | null;
  outputDirectory: string | null;
  buildTimeoutSeconds: number | null;
  serverMemoryMb: number | null;
  serverRequestTimeoutSeconds: number | null;
  buildMemoryMb: number | null;
  buildDiskMb: number | null;
  buildPids: number | null;
  buildCpuShares: number | null;
  serverPids: number | null;
  serverCpuShares: number | null;
  nodeVersion: string | null;
  /** Strict-Transport-Security max-age (s) on the project's HTTPS responses; null: no HSTS */
  hstsMaxAge: number | null;
  /** site rules may rewrite to outside https:// URLs (the edge proxies them) */
  externalRewrites: boolean;
  /** pushes to other branches and pull requests build previews */
  previewsEnabled: boolean;
  previewBranches: PreviewBranches | null;
  ignoredBuildStep: IgnoredBuildStep | null;
  /** pull requests from forks build (without the project's variables) */
  forkPreviews: boolean;
}

const SETTING_COLUMNS = {
  productionBranch: 'production_branch',
  rootDirectory: 'root_directory',
  installCommand: 'install_command',
  buildCommand: 'build_command',
  outputDirectory: 'output_directory',
  buildTimeoutSeconds: 'build_timeout_seconds',
  serverMemoryMb: 'server_memory_mb',
  serverRequestTimeoutSeconds: 'server_request_timeout_seconds',
  buildMemoryMb: 'build_memory_mb',
  buildDiskMb: 'build_disk_mb',
  buildPids: 'build_pids',
  buildCpuShares: 'build_cpu_shares',
  serverPids: 'server_pids',
  serverCpuShares: 'server_cpu_shares',
  nodeVersion: 'node_version',
  hstsMaxAge: 'hsts_max_age',
  externalRewrites: 'external_rewrites',
  previewsEnabled: 'previews_enabled',
  previewBranches: 'preview_branches',
  ignoredBuildStep: 'ignored_build_step',
  forkPreviews: 'fork_previews',
} as const satisfies Record<keyof ProjectSettings, keyof Project>;

/** Bounds of the per-project server limits (a heap below 32 MiB cannot start most servers). */
export const SERVER_MEMORY_MB = { min: 32, max: 65_536 };
export const SERVER_REQUEST_TIMEOUT_SECONDS = { min: 1, max: 3600 };

const bad = (field: string, why: string, example: string): never => {
  throw new AppError('VALIDATION', `${field} ${why}.`, { hint: `For example: "${field}": ${example}` });
};

/** One checker per setting: the value given (undefined, null or '' mean "unset") -> the stored value. */
const SETTING_CHECKS: { [K in keyof ProjectSettings]: (v: unknown) => ProjectSettings[K] } = {
  productionBranch: (v) => {
    const branch = v ?? 'main';
    if (typeof branch !== 'string' || !isBranchName(branch)) bad('productionBranch', 'must be a valid git branch name', '"main"');
    return branch as string;
  },
  rootDirectory: (v) => relativePath('rootDirectory', v, '"apps/web"'),
  installCommand: (v) => optionalString('installCommand', v, '"npm ci"'),
  buildCommand: (v) => optionalString('buildCommand', v, '"npm run build"'),
  // "." is the root on purpose (a site served as committed although it has a build step), not "unset"
  outputDirectory: (v) => (typeof v === 'string' && /^\.(\/+)?$/.test(v.trim()) ? '.' : relativePath('outputDirectory', v, '"dist"')),
  buildTimeoutSeconds: (v) => optionalInt('buildTimeoutSeconds', v, 1, 86_400, 'seconds', '1800'),
  serverMemoryMb: (v) => optionalInt('serverMemoryMb', v, SERVER_MEMORY_MB.min, SERVER_MEMORY_MB.max, 'MiB', '512'),
  serverRequestTimeoutSeconds: (v) => optionalInt('serverRequestTimeoutSeconds', v, SERVER_REQUEST_TIMEOUT_SECONDS.min, SERVER_REQUEST_TIMEOUT_SECONDS.max, 'seconds', '60'),
  // the operator's maxima (--build-memory-mb, --build-disk-mb) apply when the build runs
  buildMemoryMb: (v) => optionalInt('buildMemoryMb', v, 64, 262_144, 'MiB', '2048'),
  buildDiskMb: (v) => optionalInt('buildDiskMb', v, 64, 16_777_216, 'MiB', '10240'),
  buildPids: (v) => optionalInt('buildPids', v, 16, 1_000_000, 'processes and threads', '2048'),
  buildCpuShares: (v) => optionalInt('buildCpuShares', v, 2, 262_144, 'shares', '256'),
  serverPids: (v) => optionalInt('serverPids', v, 16, 1_000_000, 'processes and threads', '512'),
  serverCpuShares: (v) => optionalInt('serverCpuShares', v, 2, 262_144, 'shares', '2048'),
  nodeVersion: (v) => {
    const spec = optionalString('nodeVersion', v, '"22"');
    if (spec !== null && parseNodeSpec(spec) === undefined)
      throw new AppError('VALIDATION', `nodeVersion "${spec}" is not a Node.js version or range.`, { hint: `Use one like ${NODE_SPEC_EXAMPLES}, for example: "nodeVersion": "22"` });
    return spec === null ? null : spec.trim();
  },
  // two years is what the HSTS preload list asks for
  hstsMaxAge: (v) => optionalInt('hstsMaxAge', v, 0, 63_072_000, 'seconds', '31536000'),
  externalRewrites: (v) => {
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') return bad('externalRewrites', 'must be true or false', 'true');
    return v;
  },
  previewsEnabled: (v) => checkFlag('previewsEnabled', v, true),
  previewBranches: checkPreviewBranches,
  ignoredBuildStep: checkIgnoredBuildStep,
  forkPreviews: (v) => checkFlag('forkPreviews', v, false),
};

function optionalString(field: string, v: unknown, example: string): string | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string' || v.length > 1000) return bad(field, 'must be a string of at most 1000 characters', example);
  return v;
}

function relativePath(field: string, value: unknown, example: string): string | null {
  const v = optionalString(field, value, example);
  if (v === null) return null;
  const clean = v.replace(/^\.\/+/, '').replace(/\/+$/, '');
  if (clean.startsWith('/') || clean.split('/').includes('..') || clean.includes('\\') || clean.includes('\0')) {
    return bad(field, 'must be a path inside the repository, without ".." or a leading "/"', example);
  }
  return clean === '' || clean === '.' ? null : clean;
}

function optionalInt(field: string, v: unknown, min: number, max: number, unit: string, example: string): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) return bad(field, `must be a whole number of ${unit} from ${min} to ${max}`, example);
  return v;
}

/** Check a create request; every problem names its field and shows a valid example. */
export function validateProjectInput(input: ProjectInput): { name: string; repoUrl: string } & ProjectSettings {
  if (typeof input.name !== 'string' || !NAME.test(input.name) || input.name.includes('--')) {
    bad('name', 'must be 1-40 lower-case letters, digits or single hyphens, starting and ending with a letter or digit', '"my-site"');
  }
  if (typeof input.repoUrl !== 'string' || input.repoUrl.trim() === '' || input.repoUrl.length > 2000 || input.repoUrl.startsWith('-')) {
    bad('repoUrl', 'must be a URL the git CLI can clone (https, ssh or file)', '"https://github.com/acme/site.git"');
  }
  // not trimmed for the caller: " -u..." would pass the "-" check above and then reach git as an option
  if (/^\s|\s$/.test(input.repoUrl as string)) {
    throw new AppError('VALIDATION', 'repoUrl must not start or end with spaces.', { hint: 'Remove the spaces around the URL, for example: "repoUrl": "https://github.com/acme/site.git"' });
  }
  const settings = {} as Record<string, unknown>;
  for (const [field, check] of Object.entries(SETTING_CHECKS)) settings[field] = check(input[field as keyof ProjectInput]);
  return { name: input.name as string, repoUrl: input.repoUrl as string, ...(settings as unknown as ProjectSettings) };
}

/**
 * Check a PATCH: only the fields given change; null (or "") unsets one (productionBranch goes
 * back to "main"). Name and repository cannot change: a new name would change every URL.
 */
export function validateProjectPatch(input: Record<string, unknown>): Partial<ProjectSettings> {
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(input)) {
    if (field === 'name' || field === 'repoUrl') {
      throw new AppError('VALIDATION', `${field} cannot be changed.`, { hint: 'Create a new project for another name or repository.' });
    }
    // own keys only: "constructor" or "__proto__" would otherwise find Object.prototype's members
    const check = Object.hasOwn(SETTING_CHECKS, field) ? (SETTING_CHECKS[field as keyof ProjectSettings] as (v: unknown) => unknown) : undefined;
    if (check === undefined) {
      throw new AppError('VALIDATION', `Unknown setting ${JSON.stringify(field)}.`, { hint: `Settings are: ${Object.keys(SETTING_CHECKS).join(', ')}.` });
    }
    out[field] = check(value);
  }
  if (Object.keys(out).length === 0) throw new AppError('VALIDATION', 'The request changes nothing.', { hint: 'For example: {"serverMemoryMb": 512}' });
  return out as Partial<ProjectSettings>;
}

/** Apply a PATCH to a project (in the caller's transaction); returns the updated row. */
export async function updateProject(db: Db, nameOrId: string, input: Record<string, unknown>): Promise<Project> {
  const project = await getProject(db, nameOrId);
  const patch = validateProjectPatch(input);
  const set: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(patch)) set[SETTING_COLUMNS[field as keyof ProjectSettings]] = columnValue(value);
  await db.updateTable('projects').set(set).where('id', '=', project.id).execute();
  // the edge keeps these with each host's route: it looks its hosts up again on a generation change
  if ('hstsMaxAge' in patch || 'externalRewrites' in patch) await bumpCounter(db, 'alias_generation');
  return getProject(db, project.id);
}

/** booleans are stored as 0/1, objects as JSON */
function columnValue(value: unknown): unknown {
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value !== null && typeof value === 'object' ? JSON.stringify(value) : value;
}

export function isBranchName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= 250 &&
    !name.startsWith('-') &&
    !name.startsWith('/') &&
    !name.endsWith('/') &&
    !name.endsWith('.lock') &&
    !name.includes('..') &&
    !name.includes('//') &&
    !name.includes('@{') &&
    // no control characters, spaces or the characters git forbids in ref names
    !/[\u0000-\u0020\u007f~^:?*[\\]/.test(name)
  );
}

/**
 * Create a project owned by team `teamId` (null: no team, which only the installation admin
 * sees); returns the row and the webhook secret in clear (shown to the user once).
 */
export async function createProject(db: Db, box: SecretBox, input: ProjectInput, teamId: string | null = null): Promise<{ project: Project; webhookSecret: string }> {
  const v = validateProjectInput(input);
  const existing = await db.selectFrom('projects').select('id').where('name', '=', v.name).executeTakeFirst();
  if (existing !== undefined) throw new AppError('CONFLICT', `A project named "${v.name}" already exists.`);
  const webhookSecret = newSecret();
  const project: Project = {
    id: newId('p'),
    name: v.name,
    repo_url: v.repoUrl,
    production_branch: v.productionBranch,
    root_directory: v.rootDirectory,
    install_command: v.installCommand,
    build_command: v.buildCommand,
    output_directory: v.outputDirectory,
    build_timeout_seconds: v.buildTimeoutSeconds,
    webhook_secret: box.encrypt(webhookSecret),
    created_at: Date.now(),
    server_memory_mb: v.serverMemoryMb,
    server_request_timeout_seconds: v.serverRequestTimeoutSeconds,
    build_memory_mb: v.buildMemoryMb,
    build_disk_mb: v.buildDiskMb,
    build_pids: v.buildPids,
    build_cpu_shares: v.buildCpuShares,
    server_pids: v.serverPids,
    server_cpu_shares: v.serverCpuShares,
    node_version: v.nodeVersion,
    hsts_max_age: v.hstsMaxAge,
    external_rewrites: v.externalRewrites ? 1 : 0,
    team_id: teamId,
    previews_enabled: v.previewsEnabled ? 1 : 0,
    preview_branches: v.previewBranches === null ? null : JSON.stringify(v.previewBranches),
    ignored_build_step: v.ignoredBuildStep === null ? null : JSON.stringify(v.ignoredBuildStep),
    fork_previews: v.forkPreviews ? 1 : 0,
  };
  await db.insertInto('projects').values(project).execute();
  return { project, webhookSecret };
}

/** Find a project by name or id, or throw PROJECT_NOT_FOUND. */
export async function getProject(db: Db, nameOrId: string): Promise<Project> {
  const project = await findProject(db, nameOrId);
  if (project === undefined) throw new AppError('PROJECT_NOT_FOUND', `No project named "${nameOrId}".`);
  return project;
}

export async function findProject(db: Db, nameOrId: string): Promise<Project | undefined> {
  return db
    .selectFrom('projects')
    .selectAll()
    .where((eb) => eb.or([eb('name', '=', nameOrId), eb('id', '=', nameOrId)]))
    .executeTakeFirst();
}

/** All projects, or those of these teams. */
export async function listProjects(db: Db, teamIds?: readonly string[]): Promise<Project[]> {
  if (teamIds !== undefined && teamIds.length === 0) return [];
  let q = db.selectFrom('projects').selectAll().orderBy('name');
  if (teamIds !== undefined) q = q.where('team_id', 'in', teamIds);
  return q.execute();
}

function previewFields(project: Project) {
  const p = previewSettings(project);
  return { previewsEnabled: p.enabled, previewBranches: p.branches, ignoredBuildStep: p.ignoredBuildStep, forkPreviews: p.forks };
}

export function webhookUrl(config: Config, project: Project): string {
  return `${config.publicUrl}/hooks/github/${project.name}`;
}

/** The project as the API shows it (`team`: the owning team's slug): never the webhook secret. */
export function serializeProject(config: Config, project: Project, productionDeploymentId: string | null, team: string | null = null) {
  const edge = edgeOrigin(config, project.name);
  return {
    id: project.id,
    name: project.name,
    team,
    repoUrl: project.repo_url,
    productionBranch: project.production_branch,
    rootDirectory: project.root_directory,
    installCommand: project.install_command,
    buildCommand: project.build_command,
    outputDirectory: project.output_directory,
    buildTimeoutSeconds: project.build_timeout_seconds ?? config.defaultBuildTimeoutSeconds,
    // null: the platform's --server-memory-mb (itself 0: node's default)
    serverMemoryMb: project.server_memory_mb ?? (config.serverMemoryMb > 0 ? config.serverMemoryMb : null),
    serverRequestTimeoutSeconds: project.server_request_timeout_seconds ?? Math.ceil(config.serverRequestTimeoutMs / 1000),
    // what builds get: the project's own, capped by the operator's maximum
    buildMemoryMb: buildLimit(project.build_memory_mb, config.sandbox.buildMemoryMb),
    buildDiskMb: buildLimit(project.build_disk_mb, config.sandbox.buildDiskMb),
    buildPids: buildLimit(project.build_pids, config.sandbox.buildPids),
    buildCpuShares: buildLimit(project.build_cpu_shares, config.sandbox.buildCpuShares),
    serverPids: buildLimit(project.server_pids, config.sandbox.serverPids),
    // a weight among the servers (which together weigh one process per core): 1024 each by default
    serverCpuShares: project.server_cpu_shares ?? 1024,
    // null: what the repository declares (engines.node, .nvmrc, .node-version), else the current LTS
    nodeVersion: project.node_version,
    hstsMaxAge: project.hsts_max_age,
    externalRewrites: project.external_rewrites === 1,
    ...previewFields(project),
    webhookUrl: webhookUrl(config, project),
    productionUrl: edge,
    productionDeploymentId,
    createdAt: new Date(project.created_at).toISOString(),
  };
}

/**
 * A project's build limit within the operator's maximum (0 there: no cap).
 * `buildLimit(8192, 4096) === 4096`, `buildLimit(null, 4096) === 4096`
 */
export function buildLimit(own: number | null, max: number): number {
  if (own === null) return max;
  return max === 0 ? own : Math.min(own, max);
}

/** `http://<label>.<base>:<edge-port>` (the port is left out when it is 80). */
export function edgeOrigin(config: Config, label: string): string {
  const port = config.edgePort === 80 ? '' : `:${config.edgePort}`;
  return `http://${label}.${config.baseDomain}${port}`;
}

export { checkEnvKey, deleteEnv, ENV_TARGETS, envForTarget, environmentNames, listEnv, MAX_VALUE_BYTES, MAX_VARS_PER_PROJECT, setEnv, type EnvVarView } from './env.js';
export { previewSettings, type IgnoredBuildStep, type PreviewBranches, type PreviewSettings } from './previews.js';
