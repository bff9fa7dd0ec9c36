import { randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Config } from '../config/index.js';
import { toError } from '../errors/index.js';

/** What one DNS check saw of a domain (stored as domains.dns_seen). */
export interface DnsSeen {
  /** the name has its own SOA record: a zone apex, which cannot take a CNAME */
  apex: boolean;
  /** the CNAME the name has, if any (lower case, no trailing dot) */
  cname: string | null;
  /** the A and AAAA addresses it resolves to */
  addresses: string[];
  /** set when the lookup itself failed (timeout, SERVFAIL): nothing is known */
  error?: string;
}

export interface DnsCheck {
  /** true: the name reaches this installation; false: it does not; undefined: the lookup failed */
  ok: boolean | undefined;
  seen: DnsSeen;
  /** for people: what was found and why it is (not) right */
  detail: string;
}

/** the answers that say "no such record" (as opposed to "could not ask") */
const NO_RECORD = new Set(['ENODATA', 'ENOTFOUND', 'NOTFOUND', 'ENONAME']);

/** A resolver on SLIPWAY_DNS_SERVERS when set, else the system's; short timeouts so an API call waits seconds, not minutes. */
export function dnsResolver(config: Pick<Config, 'dnsServers'>): Resolver {
  const resolver = new Resolver({ timeout: 1500, tries: 2 });
  if (config.dnsServers.length > 0) resolver.setServers([...config.dnsServers]);
  return resolver;
}

/**
 * Does `name` point here? Right when it has a CNAME to --cname-target, or when every A/AAAA
 * address it resolves to is ours: one of --public-ip, else one --cname-target resolves to,
 * else (neither set: a local setup) an address of this machine, loopback included.
 * A wildcard is checked through a random name under it.
 */
export async function checkDomainDns(config: Pick<Config, 'dnsServers' | 'publicIps' | 'cnameTarget'>, name: string, resolver = dnsResolver(config)): Promise<DnsCheck> {
  const wildcard = name.startsWith('*.');
  const queried = wildcard ? `slipway-check-${randomBytes(4).toString('hex')}${name.slice(1)}` : name;
  try {
    const [cname, addresses, apex] = await Promise.all([
      lookup(() => resolver.resolveCname(queried)).then((r) => (r[0] === undefined ? null : bare(r[0]))),
      Promise.all([lookup(() => resolver.resolve4(queried)), lookup(() => resolver.resolve6(queried))]).then(([v4, v6]) => [...v4, ...v6]),
      // only for the "an apex cannot take a CNAME" note: a CNAME'd name answers the SOA query with its CNAME (EBADRESP to c-ares)
      wildcard
        ? false
        : resolver.resolveSoa(queried).then(
            () => true,
            () => false,
          ),
    ]);
    const seen: DnsSeen = { apex, cname, addresses };
    const target = config.cnameTarget;
    if (target !== undefined && cname === target) return { ok: true, seen, detail: `${name} has a CNAME to ${target}.` };
    const { expected, what } = await ourAddresses(config, resolver);
    const found = describe(seen);
    if (addresses.length === 0) {
      return {
        ok: false,
        seen,
        detail:
          cname === null
            ? `${name} has no A, AAAA or CNAME record yet.`
            : `${name} is a CNAME to ${cname}, which resolves to no address${target === undefined ? '' : `; it should be a CNAME to ${target}`}.`,
      };
    }
    const foreign = addresses.filter((a) => !expected.has(normaliseIp(a)));
    if (foreign.length === 0) return { ok: true, seen, detail: `${name} resolves to ${found}, ${what}.` };
    return { ok: false, seen, detail: `${name} resolves to ${found}, but ${foreign.join(', ')} ${foreign.length === 1 ? 'is' : 'are'} not ${what}.` };
  } catch (error) {
    const message = toError(error).message;
    return { ok: undefined, seen: { apex: false, cname: null, addresses: [], error: message }, detail: `The DNS lookup of ${name} failed (${message}); it is tried again.` };
  }
}

/** The addresses a right answer may contain, and how to say so. */
async function ourAddresses(config: Pick<Config, 'publicIps' | 'cnameTarget'>, resolver: Resolver): Promise<{ expected: Set<string>; what: string }> {
  if (config.publicIps.length > 0) return { expected: new Set(config.publicIps.map(normaliseIp)), what: `this installation's address (--public-ip ${config.publicIps.join(',')})` };
  if (config.cnameTarget !== undefined) {
    const target = config.cnameTarget;
    const [v4, v6] = await Promise.all([lookup(() => resolver.resolve4(target)), lookup(() => resolver.resolve6(target))]);
    return { expected: new Set([...v4, ...v6].map(normaliseIp)), what: `an address of ${target} (--cname-target)` };
  }
  return { expected: new Set(localAddresses().map(normaliseIp)), what: 'an address of this machine' };
}

/** Every address of this machine's interfaces, loopback included (a local setup points names at 127.0.0.1). */
export function localAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const entry of list ?? []) out.push(entry.address);
  return out;
}

/** The addresses worth showing as "point your A/AAAA record here" when no --public-ip is set: not loopback, not link-local. */
export function shownLocalAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const entry of list ?? []) if (!entry.internal && !entry.address.toLowerCase().startsWith('fe80:')) out.push(entry.address);
  }
  return out;
}

/** Run one query; "no such record" is an empty answer, any other failure is thrown. */
async function lookup<T>(query: () => Promise<T[]>): Promise<T[]> {
  try {
    return await query();
  } catch (error) {
    if (NO_RECORD.has((error as NodeJS.ErrnoException).code ?? '')) return [];
    throw new Error(`${(error as NodeJS.ErrnoException).code ?? 'error'}: ${toError(error).message}`, { cause: error });
  }
}

function describe(seen: DnsSeen): string {
  return `${seen.addresses.join(', ')}${seen.cname === null ? '' : ` (through a CNAME to ${seen.cname})`}`;
}

function bare(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** IPv6 has many spellings ("::1", "0:0::1"): compare one; IPv4 is as is. */
function normaliseIp(address: string): string {
  if (isIP(address) !== 6) return address;
  try {
    return new URL(`http://[${address.split('%')[0]}]/`).hostname;
  } catch {
    return address.toLowerCase();
  }
}
