import { hkdfSync } from 'node:crypto';

/** How long one session ticket key is used; a ticket issued under the previous key is not resumed. */
export const TICKET_KEY_PERIOD_MS = 86_400_000;

/**
 * The 48-byte session ticket key (node's setTicketKeys: name, HMAC and AES keys) for the period
 * that contains `now`, derived from the platform key with HKDF-SHA256. Every edge process
 * derives the same key without talking to the others, so a session resumed on any of them
 * works; it changes once a day, so a leaked key opens at most one day's tickets.
 *
 * `server.setTicketKeys(ticketKeys(platformKey, Date.now()))`
 */
export function ticketKeys(platformKey: Buffer, now: number): Buffer {
  const period = Math.floor(now / TICKET_KEY_PERIOD_MS);
  return Buffer.from(hkdfSync('sha256', platformKey, 'slipway tls session tickets', `period ${period}`, 48));
}
