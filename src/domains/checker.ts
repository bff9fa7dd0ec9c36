import { startTicker } from '../events.js';
import type { Config } from '../config/index.js';
import { toError } from '../errors/index.js';
import type { Store } from '../store/index.js';
import { checkDomainDns, dnsResolver } from './dns.js';
import { dueDomains, recordDnsCheck } from './store.js';
import { logger } from '../log/index.js';

const domainsLog = logger('domains');

export interface DomainChecks {
  /** Stop looking; resolves once a check in progress has finished. */
  stop(): Promise<void>;
}

/** how often the loop asks the store what is due: cheap (one indexed read), and the shortest backoff step is 15 s */
const TICK_MS = 5000;
/** checks per tick at most, one after the other, so a thousand pending domains never flood the resolver */
const BATCH = 20;

/**
 * Recheck domains in the background (the api role runs this): each is looked at when its
 * next_check_at comes (see nextCheckDelay for the backoff). Several api processes may run it;
 * a check is idempotent, so two at once only cost a query.
 */
export function startDomainChecks(store: Store, config: Config, log: (message: string, error?: Error) => void = (m, e) => domainsLog.warn(e === undefined ? {} : { err: e }, m)): DomainChecks {
  const resolver = dnsResolver(config);
  const tick = async () => {
    const due = await dueDomains(store.db, Date.now(), BATCH);
    for (const domain of due) {
      if (ticker.stopped) return;
      const check = await checkDomainDns(config, domain.name, resolver);
      await store.tx((db) => recordDnsCheck(db, config, domain.name, check, false));
    }
  };
  // a slow resolver: the next tick comes after this one
  const ticker = startTicker({ everyMs: TICK_MS, tick, failed: (error) => log('checking domains failed; trying again shortly', toError(error)) });
  return {
    async stop() {
      const stopping = ticker.stop();
      resolver.cancel();
      await stopping;
    },
  };
}
