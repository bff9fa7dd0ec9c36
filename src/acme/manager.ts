import type acme from 'acme-client';
import type { Config } from '../config/index.js';
import { toError } from '../errors/index.js';
import type { SecretBox } from '../secrets.js';
import type { Db } from '../store/index.js';
import { deleteCertificate, describeCertificate, saveCertificate } from '../tls/certificates.js';
import { acmeClientFor } from './account.js';
import { sweepChallenges } from './challenges.js';
import { createRfc2136Provider, type DnsProvider } from './dns/rfc2136.js';
import { domainNames, domainsDue, markActive, markFailed, noteOnActive, postpone, type DueDomain } from './domain-status.js';
import { orderCertificate } from './order.js';
import { AcmeFailure, configureAcmeHttp } from './problem.js';
import { rateLimitWait } from './rate-limits.js';
import { backoffMs, renewAt } from './schedule.js';
import { logger } from '../log/index.js';

const acmeLog = logger('acme');

export interface CertificateManagerOptions {
  db: Db;
  box: SecretBox;
  config: Pick<Config, 'acme' | 'baseDomain'>;
  /** how often the store is looked at for work, ms (default 1000) */
  pollMs?: number;
  /** first retry after a failure, doubling up to maxRetryMs (defaults 1 min, 6 h) */
  retryBaseMs?: number;
  maxRetryMs?: number;
  log?: (message: string) => void;
}

export interface CertificateManager {
  /** One pass: issue what is due, renew what is due. Resolves when done (tests call it). */
  runOnce(): Promise<void>;
  /** Stop looking for work; waits up to 5 s for an order under way. */
  close(): Promise<void>;
}

interface Job {
  names: string[];
  viaDns: boolean;
}

/**
 * Gets and renews certificates from the ACME CA for every domain that is ready for one, and
 * for the base domain's wildcard when DNS-01 is configured; one order at a time, on the
 * installation's one account. Certificates go into the store (saveCertificate), where every
 * edge process picks them up.
 */
export function startCertificateManager(opts: CertificateManagerOptions): CertificateManager {
  const { db, box } = opts;
  const { acme: acmeConfig, baseDomain } = opts.config;
  const configured = acmeConfig.directory;
  if (configured === undefined) throw new Error('the certificate manager needs an ACME directory');
  const directory: string = configured;
  const pollMs = opts.pollMs ?? 1000;
  const retryBaseMs = opts.retryBaseMs ?? 60_000;
  const maxRetryMs = opts.maxRetryMs ?? 6 * 3_600_000;
  const log = opts.log ?? ((message: string) => acmeLog.warn(message));
  configureAcmeHttp(acmeConfig.caFile);
  const dns: DnsProvider | undefined = acmeConfig.dns01 === undefined ? undefined : createRfc2136Provider({ server: acmeConfig.dns01.server, zone: acmeConfig.dns01.zone, key: acmeConfig.dns01.tsig });
  // previews and deployment URLs need *.<base>, which only DNS-01 can prove
  const baseNames = dns !== undefined && baseDomain !== 'localhost' ? [baseDomain, `*.${baseDomain}`] : undefined;
  const base = { failures: 0, nextAttempt: 0 };

  let client: acme.Client | undefined;
  const account = async (): Promise<acme.Client> => (client ??= await acmeClientFor(db, box, directory, acmeConfig.email));

  async function issue(job: Job): Promise<void> {
    const ordered = await orderCertificate({ db, box, client: await account(), challenge: acmeConfig.challenge ?? 'http-01', dns, log }, job.names, job.viaDns).catch(async (error: unknown) => {
      // the CA forgot the account (deactivated, or a test CA restarted): register the same key again next time
      if (error instanceof AcmeFailure && error.problem?.type.endsWith(':accountDoesNotExist') === true) {
        client = undefined;
        await db.updateTable('acme_accounts').set({ account_url: null }).where('directory', '=', directory).execute();
      }
      throw error;
    });
    const validity = describeCertificate(ordered.certPem);
    const saved = await saveCertificate(db, box, { ...ordered, source: 'acme', renewAt: renewAt(validity.notBefore, validity.notAfter) });
    log(`certificate for ${job.names.join(', ')} issued, valid until ${new Date(saved.notAfter).toISOString()}`);
  }

  async function issueForDomain(domain: DueDomain): Promise<void> {
    const wildcard = domain.name.startsWith('*.');
    if (wildcard && dns === undefined) {
      const retryAt = Date.now() + maxRetryMs;
      await markFailed(
        db,
        domain.name,
        'A wildcard domain needs a DNS-01 certificate: start Slipway with --dns01-server, --dns01-tsig-name and SLIPWAY_DNS01_TSIG_SECRET (RFC 2136 updates to your DNS server).',
        retryAt,
        domain.failures + 1,
      );
      return;
    }
    const wait = await rateLimitWait(db, [domain.name]);
    if (wait !== undefined) {
      await postpone(db, domain.name, wait.reason, wait.until);
      return;
    }
    try {
      await issue({ names: [domain.name], viaDns: wildcard });
      await markActive(db, domain.name);
    } catch (error) {
      const failure = asFailure(error);
      if (failure.rateLimited) {
        const until = failure.retryAt ?? Date.now() + retryBaseMs;
        await postpone(db, domain.name, `Postponed by the CA's rate limit: ${failure.message.replace(/\.$/, '')}; next attempt at ${new Date(until).toISOString()}.`, until);
        return;
      }
      const failures = domain.failures + 1;
      const retryAt = Date.now() + backoffMs(failures, retryBaseMs, maxRetryMs);
      log(`certificate for ${domain.name} failed (attempt ${failures}): ${failure.message}`);
      await markFailed(db, domain.name, `${sentence(failure.message)} Next attempt at ${new Date(retryAt).toISOString()}.`, retryAt, failures);
    }
  }

  async function issueBase(names: string[]): Promise<void> {
    if (Date.now() < base.nextAttempt) return;
    const existing = await certificatesFor(names);
    if (existing.length > 0) return;
    const wait = await rateLimitWait(db, names);
    if (wait !== undefined) {
      base.nextAttempt = wait.until;
      log(`${names.join(', ')}: ${wait.reason}`);
      return;
    }
    try {
      await issue({ names, viaDns: true });
      base.failures = 0;
    } catch (error) {
      const failure = asFailure(error);
      base.failures += 1;
      base.nextAttempt = failure.rateLimited && failure.retryAt !== undefined ? failure.retryAt : Date.now() + backoffMs(base.failures, retryBaseMs, maxRetryMs);
      log(`certificate for ${names.join(', ')} failed (attempt ${base.failures}), next attempt at ${new Date(base.nextAttempt).toISOString()}: ${failure.message}`);
    }
  }

  async function certificatesFor(names: string[]): Promise<Array<{ id: string }>> {
    const want = JSON.stringify([...names].sort());
    const rows = await db.selectFrom('certificates').select(['id', 'names']).where('source', '=', 'acme').execute();
    return rows.filter((r) => JSON.stringify((JSON.parse(r.names) as string[]).sort()) === want);
  }

  async function renewDue(): Promise<void> {
    const now = Date.now();
    const due = await db.selectFrom('certificates').selectAll().where('source', '=', 'acme').where('renew_at', 'is not', null).where('renew_at', '<=', now).execute();
    if (due.length === 0) return;
    const domains = await domainNames(db);
    for (const cert of due) {
      if (stopped) return;
      const names = JSON.parse(cert.names) as string[];
      const isBase = baseNames !== undefined && JSON.stringify([...baseNames].sort()) === JSON.stringify([...names].sort());
      const domain = names.length === 1 && domains.has(names[0]!) ? names[0]! : undefined;
      if (!isBase && domain === undefined) {
        // nothing asks for these names any more (domain removed, DNS-01 turned off): no renewal;
        // the certificate is served until it expires, then dropped
        if (now >= Number(cert.not_after)) {
          await deleteCertificate(db, cert.id);
        } else {
          log(`certificate for ${names.join(', ')} is not renewed: no domain uses it any more`);
          await db
            .updateTable('certificates')
            .set({ renew_at: Number(cert.not_after), last_error: 'not renewed: no domain uses it any more', updated_at: now })
            .where('id', '=', cert.id)
            .execute();
        }
        continue;
      }
      const wait = await rateLimitWait(db, names);
      if (wait !== undefined) {
        await db.updateTable('certificates').set({ renew_at: wait.until, last_error: wait.reason, updated_at: Date.now() }).where('id', '=', cert.id).execute();
        if (domain !== undefined) await noteOnActive(db, domain, `${wait.reason} Still serving the current certificate, valid until ${new Date(Number(cert.not_after)).toISOString()}.`);
        continue;
      }
      try {
        await issue({ names, viaDns: isBase || names[0]!.startsWith('*.') });
        if (domain !== undefined) await noteOnActive(db, domain, null);
      } catch (error) {
        const failure = asFailure(error);
        const failures = cert.renew_failures + 1;
        const retryAt = failure.rateLimited && failure.retryAt !== undefined ? failure.retryAt : Date.now() + backoffMs(failures, retryBaseMs, maxRetryMs);
        const detail = `Renewing the certificate failed: ${sentence(failure.message)} Still serving the current certificate, valid until ${new Date(Number(cert.not_after)).toISOString()}; next attempt at ${new Date(retryAt).toISOString()}.`;
        log(`renewal of ${names.join(', ')} failed (attempt ${failures}): ${failure.message}`);
        await db.updateTable('certificates').set({ renew_at: retryAt, renew_failures: failures, last_error: failure.message, updated_at: Date.now() }).where('id', '=', cert.id).execute();
        if (domain !== undefined) await noteOnActive(db, domain, detail);
      }
    }
  }

  // one pass at a time: a pass called from outside (tests) waits for the loop's
  let chain: Promise<void> = Promise.resolve();
  function runOnce(): Promise<void> {
    const pass = chain.then(onePass);
    chain = pass.catch(() => undefined);
    return pass;
  }

  async function onePass(): Promise<void> {
    await sweepChallenges(db);
    for (const domain of await domainsDue(db, Date.now())) {
      if (stopped) return;
      await issueForDomain(domain);
    }
    if (baseNames !== undefined && !stopped) await issueBase(baseNames);
    if (!stopped) await renewDue();
  }

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = runOnce()
      .catch((error: unknown) => log(`certificate pass failed: ${toError(error).stack ?? String(error)}`))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, pollMs);
      });
  };
  timer = setTimeout(tick, 0);

  return {
    runOnce,
    async close() {
      stopped = true;
      clearTimeout(timer);
      // an order waiting on the CA cannot be cancelled; its challenge rows expire on their own
      await Promise.race([running, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    },
  };
}

function asFailure(error: unknown): AcmeFailure {
  return error instanceof AcmeFailure ? error : new AcmeFailure(toError(error).message, { cause: error });
}

/** "…refused" -> "…refused." so that the next sentence reads as one */
function sentence(text: string): string {
  return /[.!?]$/.test(text.trim()) ? text.trim() : `${text.trim()}.`;
}
