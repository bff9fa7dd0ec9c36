import { isIP } from 'node:net';
import type { Config } from '../config/index.js';
import { toError } from '../errors/index.js';
import { type Events, startLookLoop } from '../events.js';
import type { Mailer } from '../mail/index.js';
import type { SecretBox } from '../secrets.js';
import type { Store } from '../store/index.js';
import { emailMessage, slackBody, webhookBody, type WebhookBody } from './messages.js';
import { claimDue, fanOut, pruneEvents, recordAttempt, type AttemptResult, type ClaimedDelivery } from './outbox.js';
import { allowList } from './config.js';
import { postJson, PrivateAddressError } from './post.js';
import { signPayload } from './sign.js';

export interface Backoff {
  /** the wait after the first failure; doubles per attempt up to capMs */
  baseMs: number;
  capMs: number;
  /** a delivery that has failed for this long since it was made gives up */
  giveUpMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 30_000, capMs: 3_600_000, giveUpMs: 86_400_000 };

export interface DispatcherOptions {
  store: Store;
  config: Config;
  box: SecretBox;
  events: Events;
  /** undefined: no --smtp-url; email deliveries fail with that reason */
  mailer: Mailer | undefined;
  backoff?: Backoff;
  /** how often the outbox is looked at when nothing woke the dispatcher (default 500 ms) */
  pollMs?: number;
  /** time one HTTP delivery may take (default 10 s) */
  timeoutMs?: number;
}

export interface Dispatcher {
  /** stop looking; waits for the deliveries being sent */
  stop(): Promise<void>;
}

const PARALLEL = 8;
const LEASE_MS = 60_000;
const USER_AGENT = 'Slipway-Notifications/1';
/** the outbox keeps a month of events and their delivery records */
const KEEP_MS = 30 * 86_400_000;

/**
 * Deliver the outbox, in the worker role: make each event's deliveries, claim the due ones
 * (safely when several workers run, see claimDue), send them, record every attempt, and retry
 * a failing one with exponential backoff for a day. Wakes at once when this process changed a
 * deployment; other processes' events are found by the poll.
 */
export function startNotificationDispatcher(opts: DispatcherOptions): Dispatcher {
  const { store, config, box } = opts;
  const backoff = opts.backoff ?? DEFAULT_BACKOFF;
  const pollMs = opts.pollMs ?? 500;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const exceptions = allowList(config.notify.allow);
  const allowed = (address: string) => exceptions.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  let lastPrune = 0;
  const sending = new Set<Promise<void>>();

  async function look(): Promise<void> {
    while ((await fanOut(store)) > 0 && !loop.stopped);
    if (Date.now() - lastPrune > 3_600_000) {
      lastPrune = Date.now();
      await pruneEvents(store.db, KEEP_MS);
    }
    const free = PARALLEL - sending.size;
    if (free <= 0 || loop.stopped) return;
    for (const claimed of await claimDue(store, free, LEASE_MS)) {
      const done = deliver(claimed)
        .catch((err: unknown) => console.error(`[notify] delivery ${claimed.delivery.id} failed to record:`, err))
        .finally(() => {
          sending.delete(done);
          loop.kick();
        });
      sending.add(done);
      loop.track(done);
    }
  }

  async function deliver(claimed: ClaimedDelivery): Promise<void> {
    const body = webhookBody(config, claimed.event, await teamSlug(claimed.event.team_id));
    const started = performance.now();
    let result: AttemptResult & { final?: boolean };
    try {
      result = await send(claimed, body);
    } catch (raw) {
      result = { ok: false, durationMs: performance.now() - started, error: toError(raw).message };
    }
    const now = Date.now();
    const age = now - Number(claimed.delivery.created_at);
    const wait = Math.min(backoff.capMs, backoff.baseMs * 2 ** (claimed.delivery.attempts - 1));
    const retryAt = result.ok || result.final === true || age + wait > backoff.giveUpMs ? undefined : now + wait;
    if (!result.ok)
      console.error(
        `[notify] ${claimed.endpoint.kind} delivery ${claimed.delivery.id} attempt ${claimed.delivery.attempts} failed${retryAt === undefined ? ', giving up' : ''}: ${result.error ?? `HTTP ${result.status}`}`,
      );
    await recordAttempt(store, claimed, result, retryAt);
  }

  async function send(claimed: ClaimedDelivery, body: WebhookBody): Promise<AttemptResult & { final?: boolean }> {
    const { endpoint } = claimed;
    if (endpoint.kind === 'email') return sendEmail(claimed, body);
    const url = box.decrypt(endpoint.url_enc!);
    const json = JSON.stringify(endpoint.kind === 'slack' ? slackBody(body) : body);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': USER_AGENT };
    if (endpoint.kind === 'webhook') {
      headers['slipway-event'] = body.type;
      headers['slipway-delivery'] = claimed.delivery.id;
      // signed at each attempt with the time of that attempt: a retry hours later still verifies
      headers['slipway-signature'] = signPayload(box.decrypt(endpoint.secret_enc!), json, Math.floor(Date.now() / 1000));
    }
    const started = performance.now();
    try {
      const res = await postJson(url, headers, json, { timeoutMs, allowed });
      return { ok: res.status >= 200 && res.status < 300, status: res.status, durationMs: performance.now() - started, response: res.excerpt };
    } catch (err) {
      // a private address stays private on the next try: give up at once, with the way out
      if (err instanceof PrivateAddressError) return { ok: false, final: true, durationMs: performance.now() - started, error: `${err.message}; the operator may allow it with --notify-allow` };
      throw err;
    }
  }

  async function sendEmail(claimed: ClaimedDelivery, body: WebhookBody): Promise<AttemptResult & { final?: boolean }> {
    const started = performance.now();
    const { endpoint } = claimed;
    // only members hear about the team's projects: one who left gets nothing more
    const to = await store.db
      .selectFrom('users as u')
      .innerJoin('memberships as m', 'm.user_id', 'u.id')
      .select('u.email')
      .where('u.id', '=', endpoint.user_id!)
      .where('m.team_id', '=', endpoint.team_id)
      .executeTakeFirst();
    if (to === undefined) return { ok: false, final: true, durationMs: 0, error: 'the subscriber is no longer a member of the team' };
    if (opts.mailer === undefined) return { ok: false, final: true, durationMs: 0, error: 'no mail server: start Slipway with --smtp-url' };
    const reply = await opts.mailer.send({ to: to.email, ...emailMessage(body) });
    return { ok: true, durationMs: performance.now() - started, response: reply };
  }

  const slugs = new Map<string, string>();
  async function teamSlug(teamId: string | null): Promise<string | null> {
    if (teamId === null) return null;
    const known = slugs.get(teamId);
    if (known !== undefined) return known;
    const row = await store.db.selectFrom('teams').select('slug').where('id', '=', teamId).executeTakeFirst();
    if (row !== undefined) slugs.set(teamId, row.slug);
    return row?.slug ?? null;
  }

  const loop = startLookLoop({ events: opts.events, pollMs, look, failed: (err) => console.error('[notify] looking at the outbox failed:', err) });
  return { stop: () => loop.stop() };
}
