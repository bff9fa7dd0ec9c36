import type { Config } from '../config/index.js';
import { AppError } from '../errors/index.js';
import { newId, newSecret } from '../ids.js';
import type { SecretBox } from '../secrets.js';
import type { Db, Project } from '../store/index.js';

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
}

/** Check a create request; every problem names its field and shows a valid example. */
export function validateProjectInput(input: ProjectInput): {
  name: string;
  repoUrl: string;
  productionBranch: string;
  rootDirectory: string | null;
  installCommand: string | null;
  buildCommand: string | null;
  outputDirectory: string | null;
  buildTimeoutSeconds: number | null;
} {
  const bad = (field: string, why: string, example: string): never => {
    throw new AppError('VALIDATION', `${field} ${why}.`, { hint: `For example: "${field}": ${example}` });
  };
  const optionalString = (field: keyof ProjectInput, example: string): string | null => {
    const v = input[field];
    if (v === undefined || v === null || v === '') return null;
    if (typeof v !== 'string' || v.length > 1000) return bad(field, 'must be a string of at most 1000 characters', example);
    return v;
  };
  const relativePath = (field: keyof ProjectInput, example: string): string | null => {
    const v = optionalString(field, example);
    if (v === null) return null;
    const clean = v.replace(/^\.\/+/, '').replace(/\/+$/, '');
    if (clean.startsWith('/') || clean.split('/').includes('..') || clean.includes('\\') || clean.includes('\0')) {
      return bad(field, 'must be a path inside the repository, without ".." or a leading "/"', example);
    }
    return clean === '' || clean === '.' ? null : clean;
  };

  if (typeof input.name !== 'string' || !NAME.test(input.name) || input.name.includes('--')) {
    bad('name', 'must be 1-40 lower-case letters, digits or single hyphens, starting and ending with a letter or digit', '"my-site"');
  }
  if (typeof input.repoUrl !== 'string' || input.repoUrl.trim() === '' || input.repoUrl.length > 2000 || input.repoUrl.startsWith('-')) {
    bad('repoUrl', 'must be a URL the git CLI can clone (https, ssh or file)', '"https://github.com/acme/site.git"');
  }
  const branch = input.productionBranch ?? 'main';
  if (typeof branch !== 'string' || !isBranchName(branch)) bad('productionBranch', 'must be a valid git branch name', '"main"');
  const timeout = input.buildTimeoutSeconds;
  if (timeout !== undefined && timeout !== null && (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 1 || timeout > 86400)) {
    bad('buildTimeoutSeconds', 'must be a whole number of seconds from 1 to 86400', '1800');
  }
  return {
    name: input.name as string,
    repoUrl: (input.repoUrl as string).trim(),
    productionBranch: branch as string,
    rootDirectory: relativePath('rootDirectory', '"apps/web"'),
    installCommand: optionalString('installCommand', '"npm ci"'),
    buildCommand: optionalString('buildCommand', '"npm run build"'),
    outputDirectory: relativePath('outputDirectory', '"dist"'),
    buildTimeoutSeconds: (timeout as number | undefined) ?? null,
  };
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

/** Create a project; returns the row and the webhook secret in clear (shown to the user once). */
export async function createProject(db: Db, box: SecretBox, input: ProjectInput): Promise<{ project: Project; webhookSecret: string }> {
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
  return db.selectFrom('projects').selectAll().where((eb) => eb.or([eb('name', '=', nameOrId), eb('id', '=', nameOrId)])).executeTakeFirst();
}

export async function listProjects(db: Db): Promise<Project[]> {
  return db.selectFrom('projects').selectAll().orderBy('name').execute();
}

export function webhookUrl(config: Config, project: Project): string {
  return `${config.publicUrl}/hooks/github/${project.name}`;
}

/** The project as the API shows it: never the webhook secret. */
export function serializeProject(config: Config, project: Project, productionDeploymentId: string | null) {
  const edge = edgeOrigin(config, project.name);
  return {
    id: project.id,
    name: project.name,
    repoUrl: project.repo_url,
    productionBranch: project.production_branch,
    rootDirectory: project.root_directory,
    installCommand: project.install_command,
    buildCommand: project.build_command,
    outputDirectory: project.output_directory,
    buildTimeoutSeconds: project.build_timeout_seconds ?? config.defaultBuildTimeoutSeconds,
    webhookUrl: webhookUrl(config, project),
    productionUrl: edge,
    productionDeploymentId,
    createdAt: new Date(project.created_at).toISOString(),
  };
}

/** `http://<label>.<base>:<edge-port>` (the port is left out when it is 80). */
export function edgeOrigin(config: Config, label: string): string {
  const port = config.edgePort === 80 ? '' : `:${config.edgePort}`;
  return `http://${label}.${config.baseDomain}${port}`;
}
