import nodemailer from 'nodemailer';
import type { MailConfig } from './config.js';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html?: string;
  /** threads an answer under the message it answers */
  inReplyTo?: string;
}

export interface Mailer {
  /** send one message; resolves with the SMTP server's reply ("250 OK ...") */
  send(mail: OutgoingMail): Promise<string>;
  close(): void;
}

/** A mailer for --smtp-url, or undefined when no mail server is configured. */
export function createMailer(config: MailConfig): Mailer | undefined {
  if (config.smtpUrl === undefined) return undefined;
  // pooled: a burst of notifications reuses a few connections instead of one per mail
  const transport = nodemailer.createTransport(`${config.smtpUrl}${config.smtpUrl.includes('?') ? '&' : '?'}pool=true`);
  return {
    async send(mail) {
      const info = await transport.sendMail({
        from: config.from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        ...(mail.html === undefined ? {} : { html: mail.html }),
        ...(mail.inReplyTo === undefined ? {} : { inReplyTo: mail.inReplyTo, references: mail.inReplyTo }),
      });
      return String(info.response);
    },
    close: () => transport.close(),
  };
}
