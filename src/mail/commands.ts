import { recordAudit } from '../auth/index.js';
import type { Config } from '../config/index.js';
import { aliasTarget, createDeployment, PRODUCTION, rollback } from '../deployments/index.js';
import { getEnvironment, PREVIEW_ENV } from '../environments/index.js';
import { AppError, toError } from '../errors/index.js';
import type { Events } from '../events.js';
import { edgeOrigin } from '../projects/index.js';
import type { Queue } from '../queue/index.js';
import type { SecretBox } from '../secrets.js';
import { resolveRef } from '../source/index.js';
import type { Project, Role, Store, User } from '../store/index.js';

/** A command read from a message: its verb and argument, as the person wrote them. */
export type MailCommand = { verb: 'deploy'; environment: string } | { verb: 'show-preview' } | { verb: 'status' } | { verb: 'rollback' } | { verb: 'help'; said: string };

/**
 * The command in the subject, else in the first non-empty line of the body. "Re:" and "Fwd:"
 * prefixes, case and extra spaces do not matter; quoted lines ("> ...") are skipped.
 *
 * `parseCommand('Re: Deploy  Staging', '')` -> `{ verb: 'deploy', environment: 'staging' }`
 */
export function parseCommand(subject: string, body: string): MailCommand {
  const fromSubject = readCommand(subject);
  if (fromSubject.verb !== 'help') return fromSubject;
  const first = body.split(/\r?\n/).find((line) => line.trim() !== '' && !line.trim().startsWith('>')) ?? '';
  const fromBody = readCommand(first);
  return fromBody.verb !== 'help' ? fromBody : { verb: 'help', said: (subject.trim() || first.trim()).slice(0, 80) };
}

function readCommand(line: string): MailCommand {
  const words = line
    .replace(/^\s*((re|fwd?|aw|sv)\s*:\s*)+/i, '')
    .trim()
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean);
  const [verb, arg, ...rest] = words;
  if (rest.length > 0) return { verb: 'help', said: line.trim() };
  if (verb === 'deploy' && arg !== undefined && /^[a-z0-9][a-z0-9-]{0,62}$/.test(arg) && arg !== PREVIEW_ENV) return { verb: 'deploy', environment: arg };
  if (verb === 'show' && arg === 'preview') return { verb: 'show-preview' };
  if (verb === 'status' && arg === undefined) return { verb: 'status' };
  if (verb === 'rollback' && arg === undefined) return { verb: 'rollback' };
  return { verb: 'help', said: line.trim() };
}

export interface CommandDeps {
  store: Store;
  queue: Queue;
  box: SecretBox;
  config: Config;
  events: Events;
}

export interface CommandAnswer {
  /** one word for the inbound_mail record: deployed, status, help, refused, failed, ... */
  outcome: string;
  text: string;
  deploymentId?: string;
}

export const HELP = [
  'Write one of these in the subject (or the first line) of a mail to this address:',
  '',
  "  deploy staging      build the head of the environment's branch and deploy it there",
  '  deploy production   the same for production (it waits for approval when production requires it)',
  "  show preview        the preview URLs of the project's branches",
  '  status              what production serves and the latest deployments',
  '  rollback            production goes back to the deployment before the one it serves',
].join('\n');

/** Run a member's command; the answer is what gets mailed back. */
export async function runMailCommand(deps: CommandDeps, project: Project, user: User, role: Role, command: MailCommand, messageId: string | undefined): Promise<CommandAnswer> {
  const { store, config } = deps;
  const inspect = (id: string) => `${config.publicUrl}/p/${encodeURIComponent(project.name)}/d/${id}`;
  const site = (id: string) => edgeOrigin(config, `${id}--${project.name}`);
  const canChange = role === 'owner' || role === 'member';
  const audit = (action: string, target: string, details: Record<string, unknown>) =>
    recordAudit(store.db, project.team_id, { kind: 'user', via: 'token', user }, null, {
      action,
      target,
      details: { project: project.name, via: 'email', ...(messageId === undefined ? {} : { messageId }), ...details },
    });
  switch (command.verb) {
    case 'help':
      return { outcome: 'help', text: `${command.said === '' ? 'This message had no command.' : `"${command.said}" is not a command I know.`}\n\n${HELP}` };
    case 'status':
      return { outcome: 'status', text: await statusText(deps, project) };
    case 'show-preview':
      return { outcome: 'show-preview', text: await previewText(deps, project) };
    case 'rollback': {
      if (!canChange) return { outcome: 'refused', text: "Rolling back needs the member role in the project's team; you are a viewer." };
      try {
        const d = await rollback(store, project, undefined, (db, to) =>
          recordAudit(db, project.team_id, { kind: 'user', via: 'token', user }, null, { action: 'deployment.rollback', target: to.id, details: { project: project.name, via: 'email' } }),
        );
        deps.events.emit('alias-moved', { projectId: project.id, alias: PRODUCTION, deploymentId: d.id });
        return {
          outcome: 'rolled-back',
          deploymentId: d.id,
          text: `Production of ${project.name} serves ${d.id} again (commit ${d.commit_sha.slice(0, 12)}).\n\nSite: ${edgeOrigin(config, project.name)}\nDetails: ${inspect(d.id)}`,
        };
      } catch (raw) {
        return { outcome: 'failed', text: `Rollback did not happen: ${toError(raw).message}` };
      }
    }
    case 'deploy': {
      if (!canChange) return { outcome: 'refused', text: "Deploying needs the member role in the project's team; you are a viewer." };
      try {
        const env = await getEnvironment(store.db, project, command.environment);
        const branch = env.name === 'production' ? project.production_branch : env.branch;
        if (branch === null)
          throw new AppError('VALIDATION', `Environment ${env.name} has no branch to deploy.`, { hint: `Bind one: slipway environments update ${project.name} ${env.name} --branch <branch>` });
        const resolved = await resolveRef(project.repo_url, branch, { timeoutMs: 30_000 });
        const d = await store.tx(async (db) => createDeployment(db, deps.queue, deps.box, { project, sha: resolved.sha, branch, trigger: 'api', environment: env.name }));
        await audit('deployment.create', d.id, { ref: branch, sha: d.commit_sha, environment: d.environment });
        deps.events.emit('job-enqueued');
        const approval = env.requiresApproval ? `\nIt waits for approval before ${env.name} serves it: slipway approve ${d.id}` : '';
        return {
          outcome: 'deployed',
          deploymentId: d.id,
          text: `Deploying ${branch} (${d.commit_sha.slice(0, 12)}) of ${project.name} to ${env.name}: deployment ${d.id} is queued.${approval}\n\nIt will be at: ${site(d.id)}\nFollow the build: ${inspect(d.id)}`,
        };
      } catch (raw) {
        const err = toError(raw);
        return { outcome: 'failed', text: `Nothing was deployed: ${err.message}${err instanceof AppError && err.hint !== undefined ? `\n${err.hint}` : ''}` };
      }
    }
  }
}

async function statusText(deps: CommandDeps, project: Project): Promise<string> {
  const { store, config } = deps;
  const prod = await aliasTarget(store.db, project.id, PRODUCTION);
  const latest = await store.db
    .selectFrom('deployments')
    .select(['id', 'status', 'environment', 'branch', 'commit_sha'])
    .where('project_id', '=', project.id)
    .orderBy('seq', 'desc')
    .limit(5)
    .execute();
  const lines = [prod === null ? `${project.name} has no production deployment yet.` : `Production (${edgeOrigin(config, project.name)}) serves ${prod}.`, '', 'Latest deployments:'];
  for (const d of latest) lines.push(`  ${d.id}  ${d.status.padEnd(17)} ${d.environment}${d.branch === null ? '' : ` (${d.branch})`}  ${d.commit_sha.slice(0, 12)}`);
  if (latest.length === 0) lines.push('  none');
  lines.push('', `Dashboard: ${config.publicUrl}/p/${encodeURIComponent(project.name)}`);
  return lines.join('\n');
}

async function previewText(deps: CommandDeps, project: Project): Promise<string> {
  const { store, config } = deps;
  const aliases = await store.db
    .selectFrom('aliases')
    .select(['name', 'deployment_id'])
    .where('project_id', '=', project.id)
    .where('name', 'like', 'branch:%')
    .orderBy('updated_at', 'desc')
    .limit(20)
    .execute();
  if (aliases.length === 0) return `${project.name} has no branch previews yet: push a branch other than ${project.production_branch}.`;
  const lines = [`Previews of ${project.name}:`];
  for (const a of aliases) lines.push(`  ${a.name.slice('branch:'.length)}: ${edgeOrigin(config, `${a.name.slice('branch:'.length)}--${project.name}`)}  (${a.deployment_id})`);
  return lines.join('\n');
}
