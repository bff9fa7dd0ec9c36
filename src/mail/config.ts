import { AppError } from '../errors/index.js';

/** Outgoing mail (notifications, answers to mailed commands) and the listener for mailed commands. */
export interface MailConfig {
  /** --smtp-url / SLIPWAY_SMTP_URL: smtp://user:pass@host:587 or smtps://...:465; undefined: no mail is sent */
  readonly smtpUrl: string | undefined;
  /** --smtp-from / SLIPWAY_SMTP_FROM: the sender of every mail (default "Slipway <slipway@<mail domain>>") */
  readonly from: string;
  /** --smtp-listen / SLIPWAY_SMTP_LISTEN: where mailed commands arrive ("0.0.0.0:2525"); undefined: off */
  readonly listen: { readonly host: string; readonly port: number } | undefined;
  /** --mail-domain / SLIPWAY_MAIL_DOMAIN: the host of deploy+<project>.<token>@<host> (default: the base domain) */
  readonly domain: string;
}

/** Read the mail flags; a bad value stops the start with an example of a good one. */
export function parseMailConfig(pick: (flag: string, envName: string) => string | undefined, baseDomain: string): MailConfig {
  const smtpUrl = pick('smtp-url', 'SLIPWAY_SMTP_URL');
  if (smtpUrl !== undefined && !/^smtps?:\/\/[^/]/.test(smtpUrl)) {
    throw new AppError('CONFIG', '--smtp-url (SLIPWAY_SMTP_URL) must be an smtp:// or smtps:// URL.', { hint: 'For example: --smtp-url smtp://slipway:secret@mail.example.com:587' });
  }
  const domain = (pick('mail-domain', 'SLIPWAY_MAIL_DOMAIN') ?? baseDomain).toLowerCase();
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(domain)) {
    throw new AppError('CONFIG', `--mail-domain must be a DNS name, got ${JSON.stringify(domain)}.`, { hint: 'For example: --mail-domain deploy.example.com' });
  }
  const from = pick('smtp-from', 'SLIPWAY_SMTP_FROM') ?? `Slipway <slipway@${domain}>`;
  if (!/@[^@\s>]+>?\s*$/.test(from)) {
    throw new AppError('CONFIG', `--smtp-from must be an address, got ${JSON.stringify(from)}.`, { hint: 'For example: --smtp-from "Slipway <deploys@example.com>"' });
  }
  const listenRaw = pick('smtp-listen', 'SLIPWAY_SMTP_LISTEN');
  let listen: MailConfig['listen'];
  if (listenRaw !== undefined && listenRaw !== 'off') {
    const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:]+)):(\d{1,5})$/.exec(listenRaw);
    const port = m === null ? Number.NaN : Number(m[3]);
    if (m === null || port > 65535) throw new AppError('CONFIG', `--smtp-listen takes host:port, got ${JSON.stringify(listenRaw)}.`, { hint: 'For example: --smtp-listen 0.0.0.0:2525' });
    listen = Object.freeze({ host: m[1] ?? m[2]!, port });
  }
  return Object.freeze({ smtpUrl, from, listen, domain });
}
