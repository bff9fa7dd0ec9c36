import type { Config } from '../config/index.js';
import type { Events } from '../events.js';
import { startNotificationDispatcher } from '../notify/index.js';
import type { Queue } from '../queue/index.js';
import type { SecretBox } from '../secrets.js';
import type { Store } from '../store/index.js';
import { startMailListener } from './listener.js';
import { answerFinishedMailDeploys } from './outcomes.js';
import { createMailer } from './send.js';

/**
 * What this process does with mail and notifications: the worker role delivers the outbox
 * (webhooks, chat, email); --smtp-listen takes mailed commands. One mailer serves both.
 */
export async function startMail(deps: { store: Store; queue: Queue; config: Config; box: SecretBox; events: Events }): Promise<{ stop(): Promise<void> }> {
  const { config } = deps;
  const mailer = createMailer(config.mail);
  const dispatcher = config.roles.includes('worker') ? startNotificationDispatcher({ ...deps, mailer }) : undefined;
  const listener = config.mail.listen === undefined ? undefined : await startMailListener({ ...deps, mailer }, config.mail.listen);
  // the outcome of a mailed deploy goes out from the worker role, like every notification
  const outcomes =
    mailer !== undefined && config.roles.includes('worker')
      ? setInterval(() => void answerFinishedMailDeploys(deps.store, config, mailer).catch((err: unknown) => console.error('[mail] answering finished deploys failed:', err)), 1000)
      : undefined;
  if (listener !== undefined) console.log(`Taking mailed deploy commands on ${config.mail.listen!.host}:${listener.port} for deploy+<project>.<token>@${config.mail.domain}`);
  return {
    async stop() {
      clearInterval(outcomes);
      await listener?.close();
      await dispatcher?.stop();
      mailer?.close();
    },
  };
}
