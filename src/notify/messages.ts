import type { Config } from '../config/index.js';
import { edgeOrigin } from '../projects/index.js';
import type { EventData } from './events.js';
import type { EventRow } from './outbox.js';

/** The JSON body of a webhook delivery; its schema is documented in docs/notifications.md. */
export function webhookBody(config: Config, event: EventRow, teamSlug: string | null) {
  const data = JSON.parse(event.data) as EventData;
  const d = data.deployment;
  return {
    id: event.id,
    type: event.type,
    createdAt: new Date(Number(event.created_at)).toISOString(),
    team: teamSlug,
    project: { id: event.project_id, name: data.projectName, url: `${config.publicUrl}/p/${encodeURIComponent(data.projectName)}` },
    deployment:
      d === undefined
        ? null
        : {
            id: d.id,
            status: d.status,
            environment: d.environment,
            branch: d.branch,
            commit: { sha: d.commitSha, message: d.commitMessage },
            pullRequest: d.prNumber,
            url: edgeOrigin(config, `${d.id}--${data.projectName}`),
            inspectUrl: inspectUrl(config, data.projectName, d.id),
            alias: d.alias ?? null,
            error: d.error,
          },
    domain: data.domain === undefined ? null : { name: data.domain.name, environment: data.domain.environment, status: data.domain.status, detail: data.domain.detail },
  };
}

export type WebhookBody = ReturnType<typeof webhookBody>;

function inspectUrl(config: Config, project: string, id: string): string {
  return `${config.publicUrl}/p/${encodeURIComponent(project)}/d/${id}`;
}

const VERB: Record<string, string> = {
  'deployment.created': 'was created',
  'deployment.building': 'is building',
  'deployment.ready': 'is ready',
  'deployment.failed': 'failed',
  'deployment.promoted': 'was promoted',
  'deployment.rolled_back': 'is live again after a rollback',
  'deployment.awaiting_approval': 'is waiting for approval',
  'certificate.issued': 'has its certificate',
  'certificate.failing': 'cannot get a certificate',
};

/** One line a person reads: what happened to what, and where to look. */
export function headline(body: WebhookBody): string {
  const verb = VERB[body.type] ?? body.type;
  if (body.domain !== null) return `${body.project.name}: ${body.domain.name} ${verb}`;
  const d = body.deployment!;
  const where = d.alias === null ? d.environment : d.alias.replace(/^env:/, '');
  return `${body.project.name}: deployment ${d.id} (${where}${d.branch === null ? '' : `, ${d.branch}`}) ${verb}`;
}

/** A Slack-compatible incoming webhook's body (Slack, Mattermost, Discord's /slack endpoint all read `text`). */
export function slackBody(body: WebhookBody): { text: string } {
  const link = body.deployment === null ? body.project.url : body.deployment.inspectUrl;
  const detail = body.deployment?.error?.message ?? body.domain?.detail ?? null;
  const lines = [`${headline(body)}`, `${body.deployment === null ? '' : `${body.deployment.url}  ·  `}<${link}|details>`];
  if (detail !== null && (body.type === 'deployment.failed' || body.type === 'certificate.failing')) lines.push(`> ${detail.slice(0, 300)}`);
  return { text: lines.join('\n') };
}

/** The mail a subscriber gets: subject, plain text and HTML with the same links. */
export function emailMessage(body: WebhookBody): { subject: string; text: string; html: string } {
  const d = body.deployment;
  const subject = `[Slipway] ${headline(body)}`;
  const facts: Array<[string, string]> = [];
  if (d !== null) {
    facts.push(['Status', d.status], ['Environment', d.environment]);
    if (d.branch !== null) facts.push(['Branch', d.branch]);
    facts.push(['Commit', `${d.commit.sha.slice(0, 12)}${d.commit.message === null ? '' : ` ${d.commit.message.split('\n')[0]}`}`]);
    if (d.error !== null) facts.push(['Error', `${d.error.code}${d.error.message === null ? '' : `: ${d.error.message}`}`]);
  }
  const links: Array<[string, string]> =
    d === null
      ? [['Project', body.project.url]]
      : [
          ['Open the site', d.url],
          ['Build log and details', d.inspectUrl],
        ];
  if (body.type === 'deployment.awaiting_approval' && d !== null) facts.push(['To approve', `slipway approve ${d.id} (or in the dashboard)`]);
  const text = [
    headline(body),
    '',
    ...facts.map(([k, v]) => `${k}: ${v}`),
    '',
    ...links.map(([k, v]) => `${k}: ${v}`),
    '',
    'You get this mail because you subscribed to this project in Slipway.',
  ].join('\n');
  const html = [
    `<p><strong>${escapeHtml(headline(body))}</strong></p>`,
    `<table>${facts.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`,
    `<p>${links.map(([k, v]) => `<a href="${escapeHtml(v)}">${escapeHtml(k)}</a>`).join(' &middot; ')}</p>`,
    '<p style="color:#666">You get this mail because you subscribed to this project in Slipway.</p>',
  ].join('\n');
  return { subject, text, html };
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
