export { formatAddress, mailAddressOf, makeMailAddress, projectForAddress, removeMailAddress } from './address.js';
export { parseMailConfig, type MailConfig } from './config.js';
export { createMailer, type Mailer, type OutgoingMail } from './send.js';
