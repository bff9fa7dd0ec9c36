import { EventEmitter } from 'node:events';

/**
 * In-process notifications between roles of one process: the api tells the worker a job is
 * waiting (so it need not wait for its next poll) and tells the edge an alias moved (so it
 * drops cached routes at once). Other processes learn the same from the store by polling.
 */
export interface SlipwayEvents {
  'job-enqueued': [];
  /** a deployment's status changed (the git host reporter tells the git host at once) */
  'deployment-changed': [{ deploymentId: string }];
  'alias-moved': [{ projectId: string; alias: string; deploymentId: string }];
}

export class Events extends EventEmitter<SlipwayEvents> {}

/** A background loop that looks at the store: at once on a deployment, alias or job event, else every `pollMs`. */
export interface LookLoop {
  /** look again as soon as the current look ends (one look runs at a time) */
  kick(): void;
  /** work started by a look that `stop` waits for (a delivery, a report) */
  track(work: Promise<unknown>): void;
  /** true once stop was called (a long look checks it between steps) */
  readonly stopped: boolean;
  /** stop looking; waits for the running look and the tracked work */
  stop(): Promise<void>;
}

/**
 * Run `look` one at a time: when events or tracked work ask for another look while one runs,
 * the next starts right after it; otherwise every `pollMs`. A failing look is reported and the
 * loop goes on. The notification dispatcher and the git host reporter share it.
 */
export function startLookLoop(opts: { events: Events; pollMs: number; look: () => Promise<void>; failed: (err: unknown) => void }): LookLoop {
  let stopped = false;
  let again = false;
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const tracked = new Set<Promise<unknown>>();
  const kick = () => {
    if (stopped) return;
    if (running !== undefined) {
      again = true;
      return;
    }
    clearTimeout(timer);
    running = opts
      .look()
      .catch(opts.failed)
      .finally(() => {
        running = undefined;
        if (stopped) return;
        if (again) {
          again = false;
          kick();
        } else timer = setTimeout(kick, opts.pollMs);
      });
  };
  const onEvent = () => kick();
  const names = ['job-enqueued', 'deployment-changed', 'alias-moved'] as const;
  for (const name of names) opts.events.on(name, onEvent);
  // the first look right after this returns: `look` may use the loop the caller is assigning
  queueMicrotask(kick);
  return {
    kick,
    get stopped() {
      return stopped;
    },
    track(work) {
      const settled = work.then(
        () => undefined,
        () => undefined,
      );
      tracked.add(settled);
      void settled.then(() => tracked.delete(settled));
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      for (const name of names) opts.events.off(name, onEvent);
      await running;
      await Promise.all([...tracked]);
    },
  };
}

/** A job run every `everyMs` (skipped while the previous run is still going); `stop` waits for the running one. */
export interface Ticker {
  /** true once stop was called (a long run checks it between items) */
  readonly stopped: boolean;
  stop(): Promise<void>;
}

/**
 * Run `tick` every `everyMs`, never two at once: a slow run (a slow resolver, AWS, a drain
 * endpoint) makes the next tick wait rather than pile up. A failing run is reported and the next
 * tick tries again. The domain checks (edge and AWS) and the log drains share it.
 */
export function startTicker(opts: { everyMs: number; tick: () => Promise<unknown>; failed: (err: unknown) => void }): Ticker {
  let stopped = false;
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running !== undefined || stopped) return;
    running = opts
      .tick()
      .catch(opts.failed)
      .finally(() => {
        running = undefined;
      });
  }, opts.everyMs);
  timer.unref();
  return {
    get stopped() {
      return stopped;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
