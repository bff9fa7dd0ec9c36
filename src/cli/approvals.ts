import { waitLiveAfterMove } from './live.js';
import type { Command, Context } from './command.js';
import { needId, type Deployment } from './deployments.js';

const enc = encodeURIComponent;

async function decide(ctx: Context, verb: 'approve' | 'reject'): Promise<Deployment> {
  const id = needId(ctx, verb);
  const reason = ctx.values.reason as string | undefined;
  return ctx.api().request<Deployment>('POST', `/api/v1/deployments/${enc(id)}/${verb}`, reason === undefined ? {} : { reason });
}

/** `slipway approve <deployment>`: a build waiting in awaiting-approval goes live in its environment. */
export const approveCommand: Command = {
  summary: 'Approve a deployment that waits for approval: its environment serves it',
  usage: ['slipway approve <deployment-id> [--reason TEXT]'],
  options: { reason: { type: 'string' } },
  flags: ['--reason TEXT       why, for the audit trail'],
  examples: ['slipway approve d3k9x0q2m7ab --reason "checked checkout on the review URL"'],
  async run(ctx) {
    // as promote does: wait until every edge serves the approved deployment (liveAt)
    const d = await waitLiveAfterMove(ctx.api(), await decide(ctx, 'approve'), ctx);
    ctx.out.result(d, () => ctx.out.line(`Approved: ${d.environment} of ${d.project} now serves ${ctx.out.bold(d.id)}.`));
  },
};

/** `slipway reject <deployment>`: it never serves at its environment. */
export const rejectCommand: Command = {
  summary: 'Reject a deployment that waits for approval: it never goes live',
  usage: ['slipway reject <deployment-id> [--reason TEXT]'],
  options: { reason: { type: 'string' } },
  flags: ['--reason TEXT       why, for the audit trail'],
  examples: ['slipway reject d3k9x0q2m7ab --reason "breaks the login page"'],
  async run(ctx) {
    const d = await decide(ctx, 'reject');
    ctx.out.result(d, () => ctx.out.line(`Rejected ${ctx.out.bold(d.id)}: ${d.environment} of ${d.project} keeps what it serves.`));
  },
};
