import { collectGarbage, type CollectDeps, type CollectionReport } from './collect.js';

export interface CollectorHandle {
  /** stops the timer and waits for a collection under way */
  stop(): Promise<void>;
}

/**
 * Collect garbage every `everyMs` in the worker role (the first run a minute after start, so
 * a restart loop does not sweep constantly). Every worker runs the timer; the lease in the
 * store lets one of them collect at a time and the others skip that round.
 */
export function startCollector(deps: CollectDeps, opts: { everyMs: number; firstAfterMs?: number; log: (line: string) => void }): CollectorHandle {
  let running: Promise<CollectionReport | undefined> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = collectGarbage(deps, { log: (line) => opts.log(`[gc] ${line}`) }).catch((err: unknown) => {
        opts.log(`[gc] garbage collection failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        return undefined;
      });
      void running.finally(() => {
        running = undefined;
        schedule(opts.everyMs);
      });
    }, ms);
    timer.unref();
  };
  schedule(opts.firstAfterMs ?? Math.min(60_000, opts.everyMs));
  return {
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await running;
    },
  };
}
