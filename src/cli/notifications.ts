import { type Command, PROJECT_OPTION } from './command.js';
import type { Output } from './output.js';

interface Endpoint {
  id: string;
  kind: 'webhook' | 'slack' | 'email';
  scope: 'project' | 'team';
  url: string | null;
  email: string | null;
  events: string[];
  signingSecret?: string;
}

interface Attempt {
  attempt: number;
  at: string;
  ok: boolean;
  status: number | null;
  durationMs: number;
  response: string | null;
  error: string | null;
}

interface Delivery {
  id: string;
  endpointId: string;
  event: string;
  deploymentId: string | null;
  state: string;
  attempts: Attempt[];
  nextAttemptAt: string | null;
  createdAt: string;
}

/**
 * `slipway notifications add|ls|rm|deliveries|resend`: where a project's (or with --team, a
 * team's) events go, and what happened to each delivery. `mail-address` makes the project's
 * address for deploy commands by email.
 */
export const notificationsCommand: Command = {
  summary: 'Webhooks, chat and email for deployment events; their deliveries; the deploy-by-email address',
  usage: [
    'slipway notifications add (--webhook URL | --slack URL | --email) [--events a,b] [--project P | --team T]',
    'slipway notifications ls [--project P | --team T]',
    'slipway notifications rm <id> [--project P | --team T]',
    'slipway notifications deliveries [--endpoint ID] [--project P | --team T]',
    'slipway notifications resend <delivery-id> [--project P | --team T]',
    'slipway notifications mail-address [--rotate | --off] [--project P]',
  ],
  options: {
    ...PROJECT_OPTION,
    team: { type: 'string' },
    webhook: { type: 'string' },
    slack: { type: 'string' },
    email: { type: 'boolean' },
    events: { type: 'string' },
    endpoint: { type: 'string' },
    rotate: { type: 'boolean' },
    off: { type: 'boolean' },
  },
  flags: [
    '--webhook URL        a signed JSON POST per event (the signing secret is printed once)',
    '--slack URL          a Slack-compatible incoming webhook (Slack, Mattermost, Discord …/slack)',
    '--email              mail me (ready, failed and awaiting approval) about this project',
    '--events a,b         only these events, e.g. deployment.ready,deployment.failed (default: all)',
    "--team T             the team's endpoints (every project) instead of one project's",
    '--endpoint ID        deliveries of this endpoint only',
    '--rotate             mail-address: make a new address (the old one stops working)',
    '--off                mail-address: turn deploy by email off',
  ],
  examples: [
    'slipway notifications add --webhook https://ci.example.com/slipway --events deployment.ready,deployment.failed',
    'slipway notifications add --slack https://hooks.slack.com/services/T0/B0/XXXX --team acme   # every project of acme',
    'slipway notifications add --email                      # mail me when this project fails, is ready or waits',
    'slipway notifications deliveries --json | jq -r \'.deliveries[] | select(.state=="failed") | .id\'',
    'slipway notifications resend dlv1234567890abc            # send that event again',
    'slipway notifications mail-address --rotate              # prints deploy+<project>.<token>@<domain>',
  ],
  async run(ctx) {
    const [action, id, ...extra] = ctx.positionals;
    if (extra.length > 0) throw ctx.usage(`Unexpected argument ${JSON.stringify(extra[0])}.`);
    if (action === undefined) throw ctx.usage('Which notifications command?');
    const team = ctx.values.team as string | undefined;
    if (team !== undefined && ctx.values.project !== undefined) throw ctx.usage('Give --project or --team, not both.');
    const owner = async () => (team !== undefined ? { base: `/api/v1/teams/${encodeURIComponent(team)}`, name: `team ${team}` } : projectBase(await ctx.project()));
    const projectBase = (p: string) => ({ base: `/api/v1/projects/${encodeURIComponent(p)}`, name: p });
    const out = ctx.out;
    const needId = (what: string) => {
      if (id === undefined) throw ctx.usage(`Which ${what}? slipway notifications ${action} <id>`);
      return encodeURIComponent(id);
    };
    switch (action) {
      case 'add': {
        const kinds = [ctx.values.webhook !== undefined, ctx.values.slack !== undefined, ctx.values.email === true].filter(Boolean).length;
        if (kinds !== 1) throw ctx.usage('Give one of --webhook URL, --slack URL or --email.');
        const events =
          typeof ctx.values.events === 'string'
            ? ctx.values.events
                .split(',')
                .map((e) => e.trim())
                .filter(Boolean)
            : undefined;
        const body = ctx.values.webhook !== undefined ? { kind: 'webhook', url: ctx.values.webhook } : ctx.values.slack !== undefined ? { kind: 'slack', url: ctx.values.slack } : { kind: 'email' };
        const { base, name } = await owner();
        const made = await ctx.api().request<Endpoint>('POST', `${base}/notifications`, { ...body, ...(events === undefined ? {} : { events }) });
        out.result(made, () => {
          out.line(`Added ${made.kind} ${made.id} to ${name}: ${made.events.join(', ')}`);
          if (made.signingSecret !== undefined) {
            out.line(`Signing secret (shown once, keep it with the receiver): ${made.signingSecret}`);
            out.line('Each request carries Slipway-Signature: t=<unix time>,v1=<HMAC-SHA256 of "<t>.<body>"> (docs/notifications.md).');
          }
        });
        return;
      }
      case 'ls':
      case 'list': {
        const { base, name } = await owner();
        const answer = { notifications: await ctx.api().list<Endpoint>(`${base}/notifications`, 'notifications') };
        out.result(answer, () => {
          if (answer.notifications.length === 0) out.line(`${name} sends no notifications yet. Add one: slipway notifications add --webhook <url>`);
          for (const e of answer.notifications) out.line(`${e.id}  ${e.kind.padEnd(7)} ${(e.url ?? e.email ?? '').padEnd(40)} ${e.scope === 'team' ? '(team) ' : ''}${e.events.join(',')}`);
        });
        return;
      }
      case 'rm':
      case 'remove': {
        const { base, name } = await owner();
        await ctx.api().request('DELETE', `${base}/notifications/${needId('endpoint')}`);
        out.result({ removed: id }, () => out.line(`Removed ${id} from ${name}.`));
        return;
      }
      case 'deliveries': {
        const { base } = await owner();
        const endpoint = ctx.values.endpoint as string | undefined;
        const query = endpoint === undefined ? '' : `?endpoint=${encodeURIComponent(endpoint)}`;
        const answer = { deliveries: await ctx.api().list<Delivery>(`${base}/notifications/deliveries${query}`, 'deliveries', 200) };
        out.result(answer, () => printDeliveries(out, answer.deliveries));
        return;
      }
      case 'resend': {
        const { base } = await owner();
        const made = await ctx.api().request<Delivery>('POST', `${base}/notifications/deliveries/${needId('delivery')}/resend`);
        out.result(made, () => out.line(`Sending ${made.event} again as ${made.id}: slipway notifications deliveries${team === undefined ? '' : ` --team ${team}`} shows how it went.`));
        return;
      }
      case 'mail-address': {
        if (team !== undefined) throw ctx.usage('The deploy-by-email address is per project: use --project.');
        const { base, name } = projectBase(await ctx.project());
        if (ctx.values.off === true) {
          await ctx.api().request('DELETE', `${base}/mail-address`);
          out.result({ enabled: false }, () => out.line(`Deploy by email is off for ${name}.`));
          return;
        }
        const state = await ctx.api().request<{ enabled: boolean; address: string | null; createdAt: string | null }>(ctx.values.rotate === true ? 'POST' : 'GET', `${base}/mail-address`);
        out.result(state, () => {
          if (state.address !== null)
            out.line(
              `Mail commands for ${name} to: ${state.address}\n(shown once; anyone in the team may use it from their account's address. Subject: deploy staging, deploy production, show preview, status or rollback.)`,
            );
          else if (state.enabled) out.line(`Deploy by email is on for ${name} since ${state.createdAt}. The address was shown when it was made; --rotate makes a new one.`);
          else out.line(`Deploy by email is off for ${name}. Turn it on: slipway notifications mail-address --rotate`);
        });
        return;
      }
      default:
        throw ctx.usage(`Unknown notifications command ${JSON.stringify(action)}.`);
    }
  },
};

function printDeliveries(out: Output, deliveries: Delivery[]): void {
  if (deliveries.length === 0) out.line('No deliveries yet.');
  for (const d of deliveries) {
    const next = d.nextAttemptAt === null ? '' : `  next try ${d.nextAttemptAt}`;
    out.line(`${d.id}  ${d.state.padEnd(9)} ${d.event}${d.deploymentId === null ? '' : ` ${d.deploymentId}`}  ${d.createdAt}${next}`);
    for (const a of d.attempts) {
      const what = a.status === null ? (a.error ?? (a.ok ? 'sent' : 'no answer')) : `HTTP ${a.status}${a.error !== null && !a.ok ? ` ${a.error}` : ''}`;
      out.line(`    #${a.attempt} ${a.at}  ${what}  ${a.durationMs} ms`);
    }
  }
}
