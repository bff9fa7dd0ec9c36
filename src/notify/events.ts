import { newId } from '../ids.js';
import type { Db } from '../store/index.js';

/** Every event a notification can be about, as named in webhook bodies (docs/notifications.md). */
export const EVENT_TYPES = [
  'deployment.created',
  'deployment.building',
  'deployment.ready',
  'deployment.failed',
  'deployment.promoted',
  'deployment.rolled_back',
  'deployment.awaiting_approval',
  'certificate.issued',
  'certificate.failing',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** The events a person may have mailed to them (the rest would be noise in an inbox). */
export const EMAIL_EVENT_TYPES: readonly EventType[] = ['deployment.ready', 'deployment.failed', 'deployment.awaiting_approval'];

/** What a deployment event records: the deployment as it was at the change. */
export interface DeploymentFacts {
  id: string;
  status: string;
  environment: string;
  branch: string | null;
  commitSha: string;
  commitMessage: string | null;
  prNumber: number | null;
  error: { code: string; phase: string | null; message: string | null } | null;
  /** promoted / rolled back: the alias it now serves */
  alias?: string;
}

export interface DomainFacts {
  name: string;
  environment: string;
  status: string;
  detail: string | null;
}

export interface EventData {
  projectName: string;
  deployment?: DeploymentFacts;
  domain?: DomainFacts;
}

/**
 * Announce a deployment's change: one outbox row, written with `db` (pass the transaction of
 * the change, so the event exists exactly when the change does). The dispatcher in the worker
 * role makes the deliveries from it later, in whichever process claims it.
 *
 * `await recordDeploymentEvent(db, 'deployment.ready', deployment.id)`
 */
export async function recordDeploymentEvent(db: Db, type: EventType, deploymentId: string, extra: { alias?: string } = {}): Promise<void> {
  const d = await db
    .selectFrom('deployments as d')
    .innerJoin('projects as p', 'p.id', 'd.project_id')
    .select([
      'd.id',
      'd.status',
      'd.environment',
      'd.branch',
      'd.commit_sha',
      'd.commit_message',
      'd.pr_number',
      'd.error_code',
      'd.error_phase',
      'd.error_message',
      'p.id as project_id',
      'p.name as project_name',
      'p.team_id',
    ])
    .where('d.id', '=', deploymentId)
    .executeTakeFirst();
  if (d === undefined) return;
  const deployment: DeploymentFacts = {
    id: d.id,
    status: d.status,
    environment: d.environment,
    branch: d.branch,
    commitSha: d.commit_sha,
    commitMessage: d.commit_message,
    prNumber: d.pr_number === null ? null : Number(d.pr_number),
    error: d.error_code === null ? null : { code: d.error_code, phase: d.error_phase, message: d.error_message },
    ...(extra.alias === undefined ? {} : { alias: extra.alias }),
  };
  await insertEvent(db, type, { teamId: d.team_id, projectId: d.project_id, deploymentId: d.id }, { projectName: d.project_name, deployment });
}

/** Announce a custom domain's certificate: issued (the domain went active) or failing (the order failed). */
export async function recordDomainEvent(db: Db, type: 'certificate.issued' | 'certificate.failing', domainName: string): Promise<void> {
  const row = await db
    .selectFrom('domains as dm')
    .innerJoin('projects as p', 'p.id', 'dm.project_id')
    .select(['dm.name', 'dm.environment', 'dm.status', 'dm.status_detail', 'p.id as project_id', 'p.name as project_name', 'p.team_id'])
    .where('dm.name', '=', domainName)
    .executeTakeFirst();
  if (row === undefined) return;
  const domain: DomainFacts = { name: row.name, environment: row.environment, status: row.status, detail: row.status_detail };
  await insertEvent(db, type, { teamId: row.team_id, projectId: row.project_id, deploymentId: null }, { projectName: row.project_name, domain });
}

async function insertEvent(db: Db, type: EventType, where: { teamId: string | null; projectId: string; deploymentId: string | null }, data: EventData): Promise<void> {
  await db
    .insertInto('notification_events')
    .values({
      id: newId('evt', 16),
      type,
      team_id: where.teamId,
      project_id: where.projectId,
      deployment_id: where.deploymentId,
      data: JSON.stringify(data),
      fanned_out: 0,
      created_at: Date.now(),
    })
    .execute();
}
