import type { ChangeSignal } from './types.js';

export interface GenerationWatch {
  /** the alias generation the routes were last brought up to, undefined before the first read */
  current(): number | undefined;
  stop(): void;
}

/**
 * Keep the edge's routes in step with the store's alias generation: read it every `pollMs` and at
 * once on a pushed change (LISTEN/NOTIFY), and when it moved, `changed(generation, first)`. One
 * read at a time; a change that arrives during a read reads again after it, since that read may
 * have seen the generation from before the change. A failing read keeps the routes until it works.
 */
export function watchGeneration(opts: {
  read: () => Promise<number>;
  pollMs: number;
  changes: ChangeSignal | undefined;
  changed: (generation: number, first: boolean) => Promise<void> | void;
  report: (message: string, error: unknown) => void;
}): GenerationWatch {
  let last: number | undefined;
  let reading = false;
  let again = false;
  const check = async (): Promise<void> => {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      do {
        again = false;
        const generation = await opts.read();
        if (generation !== last) {
          const first = last === undefined;
          last = generation;
          await opts.changed(generation, first);
        }
      } while (again);
    } catch (error) {
      opts.report('polling the alias generation failed; cached routes stay until it works again', error);
    } finally {
      reading = false;
    }
  };
  const timer = setInterval(() => void check(), opts.pollMs);
  timer.unref();
  void check();
  const unsubscribe = opts.changes?.subscribe((change) => {
    if (change === 'alias_generation' || change === 'reconnected') void check();
  });
  return {
    current: () => last,
    stop() {
      clearInterval(timer);
      unsubscribe?.();
    },
  };
}
