import type { Config } from '../config/index.js';
import { toError } from '../errors/index.js';
import { edgeOrigin } from '../projects/index.js';
import type { Store } from '../store/index.js';
import type { Mailer } from './send.js';

const FINISHED = ['ready', 'failed', 'awaiting-approval', 'canceled', 'rejected'] as const;

/**
 * Mail the outcome of deployments asked for by mail once they finish. The first answer said
 * "queued"; this one says ready (with the URL), failed (with the reason) or waiting for approval.
 * Each is claimed by one conditional update, so several workers never send it twice; it runs
 * from the store, so a restart between the request and the outcome loses nothing.
 */
export async function answerFinishedMailDeploys(store: Store, config: Config, mailer: Mailer): Promise<number> {
  const rows = await store.db
    .selectFrom('inbound_mail as im')
    .innerJoin('deployments as d', 'd.id', 'im.deployment_id')
    .innerJoin('projects as p', 'p.id', 'im.project_id')
    .select(['im.id', 'im.sender', 'd.id as deployment_id', 'd.status', 'd.environment', 'd.error_message', 'p.name as project'])
    .where('im.outcome', '=', 'deployed')
    .where('d.status', 'in', [...FINISHED])
    .limit(20)
    .execute();
  let sent = 0;
  for (const r of rows) {
    const claimed = await store.db.updateTable('inbound_mail').set({ outcome: 'deployed-answered' }).where('id', '=', r.id).where('outcome', '=', 'deployed').executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) continue;
    const inspect = `${config.publicUrl}/p/${encodeURIComponent(r.project)}/d/${r.deployment_id}`;
    const lines =
      r.status === 'ready'
        ? [`Deployment ${r.deployment_id} of ${r.project} is ready in ${r.environment}.`, '', `Site: ${edgeOrigin(config, `${r.deployment_id}--${r.project}`)}`]
        : r.status === 'failed'
          ? [`Deployment ${r.deployment_id} of ${r.project} failed: ${r.error_message ?? 'see the build log'}.`]
          : r.status === 'awaiting-approval'
            ? [`Deployment ${r.deployment_id} of ${r.project} is built and waits for approval before ${r.environment} serves it.`, `Approve: slipway approve ${r.deployment_id}`]
            : [`Deployment ${r.deployment_id} of ${r.project} was ${r.status}.`];
    try {
      await mailer.send({
        to: r.sender,
        subject: `${r.project}: deployment ${r.deployment_id} ${r.status === 'awaiting-approval' ? 'awaits approval' : `is ${r.status}`}`,
        text: [...lines, `Details: ${inspect}`].join('\n'),
      });
      sent += 1;
    } catch (err) {
      console.error(`[mail] could not mail ${r.sender} the outcome of ${r.deployment_id}:`, toError(err).message);
    }
  }
  return sent;
}
