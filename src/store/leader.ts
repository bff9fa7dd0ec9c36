import pg from 'pg';

/** What a leader runs: started when this process takes the lead, closed when it loses or gives it up. */
export interface Led {
  close(): Promise<void>;
}

export interface Leadership {
  /** true while this process runs the led work */
  leading(): boolean;
  /** give the lead up (another process takes it within its retry interval) and close the work */
  stop(): Promise<void>;
}

export interface LeaderOptions {
  /** PostgreSQL URL; undefined: SQLite, one machine, and this process leads */
  databaseUrl: string | undefined;
  /** what is led, e.g. 'certificates': one lock per name */
  name: string;
  /** how often a follower asks again, and how soon a lost lead is sought again (default 5 s) */
  retryMs?: number;
  log?: (message: string) => void;
}

/** The first key of the leaders' advisory locks (two-int form: apart from Store.tx's locks) */
const LEADER_LOCKS = 737_211_511;

/**
 * Run work that must run in one process of the installation at a time (ordering certificates
 * from the CA: two processes ordering the same names would spend the CA's rate limits twice).
 * On PostgreSQL the leader holds a session advisory lock on a connection of its own: when the
 * process dies or its connection drops, the lock goes with it and a follower, asking every
 * `retryMs`, takes over. The leader closes its work as soon as its connection fails, so two
 * processes never lead at once for longer than it takes to notice. On SQLite there is one
 * machine and this process leads.
 */
export function runAsLeader(opts: LeaderOptions, start: () => Led): Leadership {
  const retryMs = opts.retryMs ?? 5000;
  const log = opts.log ?? (() => {});
  let led: Led | undefined;
  let stopped = false;
  if (opts.databaseUrl === undefined) {
    led = start();
    return {
      leading: () => led !== undefined,
      stop: async () => {
        stopped = true;
        await led?.close();
        led = undefined;
      },
    };
  }
  const url = opts.databaseUrl;
  let client: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  let attempt: Promise<void> = Promise.resolve();

  const lose = async (why: string) => {
    const was = led;
    led = undefined;
    client?.end().catch(() => undefined);
    client = undefined;
    if (was !== undefined) {
      log(`${opts.name}: lost the lead (${why}); stopping until it is ours again`);
      await was.close();
    }
    schedule();
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      attempt = tryLead();
    }, retryMs);
    timer.unref();
  };
  const tryLead = async () => {
    if (stopped) return;
    // the application name lets an operator see in pg_stat_activity which process leads
    const c = new pg.Client({ connectionString: url, application_name: `slipway-leader-${opts.name}` });
    c.on('error', () => {
      if (client === c) void lose('its database connection failed');
    });
    try {
      await c.connect();
      const { rows } = await c.query<{ ok: boolean }>('select pg_try_advisory_lock($1, hashtext($2)) as ok', [LEADER_LOCKS, opts.name]);
      if (rows[0]?.ok !== true || stopped) {
        await c.end();
        schedule();
        return;
      }
      client = c;
      c.once('end', () => {
        if (client === c) void lose('its database connection ended');
      });
      log(`${opts.name}: this process leads`);
      led = start();
    } catch {
      await c.end().catch(() => undefined);
      if (client === c) client = undefined;
      schedule();
    }
  };
  attempt = tryLead();
  return {
    leading: () => led !== undefined,
    stop: async () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await attempt;
      const was = led;
      led = undefined;
      const c = client;
      client = undefined;
      await was?.close();
      // ending the session releases its advisory lock: a follower takes over on its next try
      await c?.end().catch(() => undefined);
    },
  };
}
