import pg from 'pg';
import { toError } from '../errors/index.js';

/** The channel the meta trigger (migration 0017) notifies on: payload `<counter>:<value>`. */
export const CHANGE_CHANNEL = 'slipway_changes';

/** What a listener hears: a counter that changed, or 'reconnected' (anything may have changed meanwhile). */
export type Change = 'alias_generation' | 'tls_generation' | 'warm_generation' | 'reconnected';

export interface ChangeFeed {
  /** Call `listener` on every change; returns the unsubscribe. */
  subscribe(listener: (change: Change) => void): () => void;
  /** true while the LISTEN connection is up */
  connected(): boolean;
  close(): Promise<void>;
}

export interface ChangeFeedOptions {
  /** first reconnect delay, doubled per failure up to maxBackoffMs (default 100 / 5000) */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  log?: (message: string, error?: Error) => void;
}

/**
 * LISTEN on PostgreSQL for the changes edges re-read (alias moves, domains, certificates, warm
 * requests), on one dedicated connection (a pooled one would be handed to other queries and
 * lose its LISTEN). When the connection drops (a database restart) it reconnects with backoff
 * and then says 'reconnected', since notifications sent meanwhile are lost: the listener
 * re-reads everything once. Until then callers keep serving what they know; their periodic
 * check is the safety net either way.
 *
 * ```ts
 * const feed = listenForChanges(url);
 * feed.subscribe((change) => { if (change !== 'tls_generation') void edge.refresh(); });
 * ```
 */
export function listenForChanges(url: string, opts: ChangeFeedOptions = {}): ChangeFeed {
  const minBackoff = opts.minBackoffMs ?? 100;
  const maxBackoff = opts.maxBackoffMs ?? 5000;
  const log = opts.log ?? ((message: string, error?: Error) => console.error(`[changes] ${message}`, error?.message ?? ''));
  const listeners = new Set<(change: Change) => void>();
  let client: pg.Client | undefined;
  let up = false;
  let closed = false;
  let everConnected = false;
  let backoff = minBackoff;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;

  const emit = (change: Change): void => {
    for (const listener of listeners) {
      try {
        listener(change);
      } catch (error) {
        log('a change listener threw', toError(error));
      }
    }
  };

  const lost = (c: pg.Client, error?: unknown): void => {
    if (client !== c) return; // an older connection's late event
    client = undefined;
    up = false;
    c.removeAllListeners();
    c.on('error', () => undefined); // it may still emit while it ends
    void c.end().catch(() => undefined);
    if (closed) return;
    if (failures++ === 0) log('lost the LISTEN connection to PostgreSQL; reconnecting (serving what is known meanwhile)', error === undefined ? undefined : toError(error));
    schedule();
  };

  const schedule = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => void connect(), backoff);
    timer.unref();
    backoff = Math.min(maxBackoff, backoff * 2);
  };

  const connect = async (): Promise<void> => {
    if (closed) return;
    // keepAlive: a machine that vanished is noticed by TCP, not only a server that closed the socket
    const c = new pg.Client({ connectionString: url, keepAlive: true, connectionTimeoutMillis: 5000 });
    client = c;
    c.on('error', (error) => lost(c, error));
    c.on('end', () => lost(c));
    c.on('notification', (message) => {
      if (message.channel !== CHANGE_CHANNEL) return;
      const key = (message.payload ?? '').split(':')[0];
      if (key === 'alias_generation' || key === 'tls_generation' || key === 'warm_generation') emit(key);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (error) {
      lost(c, error);
      return;
    }
    if (client !== c || closed) return;
    up = true;
    backoff = minBackoff;
    if (failures > 0) log(`LISTEN connection to PostgreSQL is back after ${failures} attempt${failures === 1 ? '' : 's'}`);
    failures = 0;
    if (everConnected) emit('reconnected');
    everConnected = true;
  };
  void connect();

  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    connected: () => up,
    async close() {
      closed = true;
      clearTimeout(timer);
      const c = client;
      client = undefined;
      up = false;
      if (c !== undefined) {
        c.removeAllListeners();
        c.on('error', () => undefined);
        await c.end().catch(() => undefined);
      }
    },
  };
}
