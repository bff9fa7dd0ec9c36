import { isIP } from 'node:net';
import type { Config } from '../config/index.js';
import type { DomainStatus } from '../store/index.js';
import type { DnsCheck } from './dns.js';
import { shownLocalAddresses } from './dns.js';

export interface DnsRecord {
  type: 'A' | 'AAAA' | 'CNAME';
  name: string;
  value: string;
}

/** The DNS records that make a domain reach this installation: all of `addresses`, or the one `cname`. */
export interface ExpectedRecords {
  /** an A or AAAA record for each --public-ip (or, with neither flag, this machine's addresses: any one of them) */
  addresses: DnsRecord[];
  /** true: any one of `addresses` will do (this machine's, no --public-ip); false: create them all */
  anyOne: boolean;
  /** the CNAME alternative (--cname-target); null when there is none or the name is a zone apex */
  cname: DnsRecord | null;
  /** what else to know: an apex cannot take a CNAME; no flag tells which address is public */
  notes: string[];
}

/** HTTPS with ACME on: a domain whose DNS is right waits for its certificate. */
export function acmeOn(config: Pick<Config, 'httpsPort' | 'acme'>): boolean {
  return config.httpsPort !== undefined && config.acme.directory !== undefined;
}

/** What to create at the DNS provider for `name` (apex: as the last check saw it). */
export function expectedRecords(config: Pick<Config, 'publicIps' | 'cnameTarget'>, name: string, apex: boolean): ExpectedRecords {
  const notes: string[] = [];
  const target = config.cnameTarget;
  let ips = [...config.publicIps];
  const anyOne = ips.length === 0 && target === undefined;
  if (anyOne) {
    ips = shownLocalAddresses();
    notes.push(
      'Slipway was started without --public-ip or --cname-target, so DNS is right when the name resolves to any address of this machine (127.0.0.1 works for a local test); ' +
        'start it with --public-ip <address> to be shown the exact record.',
    );
  }
  const addresses = ips.map((ip): DnsRecord => ({ type: isIP(ip) === 6 ? 'AAAA' : 'A', name, value: ip }));
  let cname: DnsRecord | null = null;
  if (target !== undefined) {
    if (apex) {
      notes.push(
        `${name} is a zone apex, which cannot take a CNAME: ${config.publicIps.length > 0 ? 'create the A/AAAA records' : `create A/AAAA records to the addresses of ${target}`}, or use your DNS provider's ALIAS/ANAME (CNAME flattening) to ${target}.`,
      );
    } else cname = { type: 'CNAME', name, value: target };
  }
  return { addresses, anyOne, cname, notes };
}

/**
 * The status after a DNS check. Right DNS moves pending-dns on (to pending-certificate when
 * ACME will issue one, else active) and leaves what the ACME loop set alone; wrong DNS is
 * pending-dns whatever it was; a failed lookup changes nothing (a resolver hiccup must not
 * demote a working domain).
 */
export function statusAfterCheck(current: DomainStatus, check: Pick<DnsCheck, 'ok'>, acme: boolean): DomainStatus {
  if (check.ok === undefined) return current;
  if (!check.ok) return 'pending-dns';
  if (current === 'pending-dns') return acme ? 'pending-certificate' : 'active';
  // HTTPS was turned off since: nothing to wait for
  if (current === 'pending-certificate' && !acme) return 'active';
  return current;
}

const SECOND = 1000;
const HOUR = 3600 * SECOND;

/**
 * When to look again: a domain waiting for its DNS after 15 s, doubling per failed check up
 * to 1 h; a right one hourly while it waits for its certificate, every 6 h once active.
 */
export function nextCheckDelay(status: DomainStatus, failures: number): number {
  if (status === 'pending-dns' || failures > 0) return Math.min(HOUR, 15 * SECOND * 2 ** Math.max(0, failures - 1));
  return status === 'active' ? 6 * HOUR : HOUR;
}

/** One sentence (or a few) on what the domain's owner should do now. */
export function whatToDo(status: DomainStatus, name: string, records: ExpectedRecords, project: string): string {
  switch (status) {
    case 'pending-dns': {
      const parts: string[] = [];
      if (records.addresses.length > 0) {
        const list = records.addresses.map(recordText).join(records.anyOne ? ' or ' : ' and ');
        parts.push(records.anyOne && records.addresses.length > 1 ? `create one of ${list}` : `create ${list}`);
      }
      if (records.cname !== null) parts.push(`create ${recordText(records.cname)}`);
      const create = parts.length === 0 ? `point ${name} at this machine` : parts.join(', or ');
      return `At your DNS provider, ${create}. Then run: slipway domains verify ${project} ${name}`;
    }
    case 'pending-certificate':
      return `DNS is right. Slipway is getting a certificate for ${name}; nothing to do.`;
    case 'active':
      return `Nothing to do: ${name} is served.`;
    case 'error':
      return `Fix what the detail says; Slipway tries again by itself (or run: slipway domains verify ${project} ${name}).`;
  }
}

export function recordText(record: DnsRecord): string {
  return `${record.type} ${record.name} -> ${record.value}`;
}
