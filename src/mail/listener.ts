import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { roleOf } from '../auth/index.js';
import { toError } from '../errors/index.js';
import { newId } from '../ids.js';
import { projectForAddress } from './address.js';
import { parseCommand, runMailCommand, type CommandDeps } from './commands.js';
import type { Mailer } from './send.js';

/** A message larger than this is refused at DATA: commands are one line. */
const MAX_MESSAGE_BYTES = 256 * 1024;

export interface MailListener {
  port: number;
  /** resolves when every message taken so far has been handled (tests wait on it) */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The SMTP listener for mailed commands (--smtp-listen). It takes mail for any
 * `...@<mail domain>` address, the same way whether or not the address opens a project, so
 * the SMTP conversation itself tells a stranger nothing; relaying anywhere else is refused.
 * Each message is handled after it was accepted:
 *   - a recipient that is no project's current address: dropped, no answer
 *   - a sender who is not a member of the project's team (by their account's email), or whose
 *     relay reported a failed SPF or DKIM check: recorded for the project, no answer
 *   - a member: the command runs and the answer goes back through --smtp-url
 */
export async function startMailListener(deps: CommandDeps & { mailer: Mailer | undefined }, listen: { host: string; port: number }): Promise<MailListener> {
  const domain = deps.config.mail.domain;
  const pending = new Set<Promise<void>>();
  const server = new SMTPServer({
    // a receiving MX: no login, no relay; STARTTLS is the relay's concern in front of it
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    size: MAX_MESSAGE_BYTES,
    banner: 'Slipway',
    logger: false,
    onRcptTo(address, _session, callback) {
      const at = address.address.lastIndexOf('@');
      if (at < 0 || address.address.slice(at + 1).toLowerCase() !== domain) return callback(Object.assign(new Error('Relay access denied'), { responseCode: 550 }));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded) return callback(Object.assign(new Error('Message too large'), { responseCode: 552 }));
        // read before answering: the session's envelope is reset for the next message once it is answered
        const recipients = session.envelope.rcptTo.map((r) => r.address);
        callback();
        const done = handle(Buffer.concat(chunks), recipients)
          .catch((err: unknown) => console.error('[mail] handling a received message failed:', toError(err)))
          .finally(() => pending.delete(done));
        pending.add(done);
      });
    },
  });

  async function handle(raw: Buffer, recipients: string[]): Promise<void> {
    const mail = await simpleParser(raw, { skipHtmlToText: false, skipImageLinks: true, skipTextToHtml: true });
    const sender = mail.from?.value[0]?.address?.toLowerCase();
    if (sender === undefined) return;
    const auth = authenticationResults(mail);
    for (const rcpt of new Set(recipients.map((r) => r.toLowerCase()))) {
      const project = await projectForAddress(deps.store.db, rcpt, domain);
      if (project === undefined) continue;
      const user = await deps.store.db.selectFrom('users').selectAll().where('email', '=', sender).executeTakeFirst();
      const role = user === undefined || project.team_id === null ? undefined : await roleOf(deps.store.db, project.team_id, user.id);
      const record = (outcome: string, command: string | null, deploymentId?: string) =>
        deps.store.db
          .insertInto('inbound_mail')
          .values({
            id: newId('im', 16),
            project_id: project.id,
            sender,
            user_id: user?.id ?? null,
            spf: auth.spf,
            dkim: auth.dkim,
            command,
            outcome,
            deployment_id: deploymentId ?? null,
            received_at: Date.now(),
          })
          .execute();
      if (user === undefined || role === undefined) {
        await record('stranger', null);
        continue;
      }
      if (auth.spf === 'fail' || auth.spf === 'softfail' || auth.dkim === 'fail') {
        await record('unauthenticated', null);
        continue;
      }
      const command = parseCommand(mail.subject ?? '', mail.text ?? '');
      const answer = await runMailCommand(deps, project, user, role, command, mail.messageId);
      await record(answer.outcome, command.verb === 'help' ? null : command.verb === 'deploy' ? `deploy ${command.environment}` : command.verb, answer.deploymentId);
      if (deps.mailer === undefined) {
        console.error(`[mail] cannot answer ${sender}: no --smtp-url`);
        continue;
      }
      const subject = mail.subject === undefined || mail.subject === '' ? `${project.name}: Slipway` : /^re:/i.test(mail.subject) ? mail.subject : `Re: ${mail.subject}`;
      await deps.mailer.send({ to: sender, subject, text: answer.text, ...(mail.messageId === undefined ? {} : { inReplyTo: mail.messageId }) });
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => console.error('[mail] SMTP listener:', err));
  return {
    port: (server.server.address() as AddressInfo).port,
    idle: async () => {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...pending]);
    },
  };
}

/**
 * SPF and DKIM results from the Authentication-Results header a relay adds (RFC 8601), the
 * first such header (the nearest relay's). null: the relay said nothing about it.
 */
export function authenticationResults(mail: Pick<ParsedMail, 'headers'>): { spf: string | null; dkim: string | null } {
  const raw = mail.headers.get('authentication-results');
  const first = Array.isArray(raw) ? raw[0] : raw;
  const text = typeof first === 'string' ? first : first !== undefined && typeof first === 'object' && 'value' in first ? String((first as { value: unknown }).value) : '';
  const result = (method: string) => new RegExp(`(?:^|[;\\s])${method}\\s*=\\s*([a-z]+)`, 'i').exec(text)?.[1]?.toLowerCase() ?? null;
  return { spf: result('spf'), dkim: result('dkim') };
}
