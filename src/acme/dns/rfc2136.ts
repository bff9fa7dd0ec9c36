import { CLASS, TYPE, decodeMessage, decodeTxt, encodeQuery, encodeTxt, encodeUpdate, rcodeName, rcodeOf, type DnsMessage } from './message.js';
import { exchange, newMessageId, parseServer } from './transport.js';
import { signMessage, verifyResponse, type TsigKey } from './tsig.js';

/**
 * Where DNS-01 puts its TXT records. One real implementation (RFC 2136 below); a hosted DNS
 * API would be another.
 */
export interface DnsProvider {
  /** Add the TXT record `fqdn` = `value` (keeping others at that name); resolves once the authoritative server answers it. */
  present(fqdn: string, value: string): Promise<void>;
  /** Remove exactly that record. */
  cleanup(fqdn: string, value: string): Promise<void>;
}

export interface Rfc2136Options {
  /** the primary server that takes updates, "host:port" */
  server: string;
  /** the zone to update; undefined: found with SOA queries to the server */
  zone: string | undefined;
  key: TsigKey;
  /** TTL of the TXT records, seconds (short: a stale answer must not outlive the challenge) */
  ttl?: number;
  /** how long present() waits for the server to answer the new record, ms */
  visibleTimeoutMs?: number;
}

/**
 * DNS-01 through RFC 2136 dynamic updates signed with TSIG (BIND, Knot, PowerDNS take them).
 *
 * ```ts
 * const dns = createRfc2136Provider({ server: '127.0.0.1:53', zone: undefined, key: { name: 'acme', algorithm: 'hmac-sha256', secret } });
 * await dns.present('_acme-challenge.example.com', digest);
 * ```
 */
export function createRfc2136Provider(opts: Rfc2136Options): DnsProvider {
  const server = parseServer(opts.server);
  const ttl = opts.ttl ?? 30;
  const visibleTimeoutMs = opts.visibleTimeoutMs ?? 60_000;

  async function update(fqdn: string, value: string, action: 'add' | 'delete'): Promise<void> {
    const zone = opts.zone ?? (await findZone(server, fqdn));
    const record =
      action === 'add'
        ? { name: fqdn, type: TYPE.TXT, class: CLASS.IN, ttl, data: encodeTxt(value) }
        : // class NONE, TTL 0: delete this one record from the RRset (RFC 2136 §2.5.4)
          { name: fqdn, type: TYPE.TXT, class: CLASS.NONE, ttl: 0, data: encodeTxt(value) };
    const signed = signMessage(encodeUpdate(newMessageId(), zone, [record]), opts.key);
    const answer = await exchange(server, signed.message);
    const decoded = decodeMessage(answer);
    const rcode = rcodeOf(decoded);
    // a refused signature comes back unsigned or with a TSIG error: verifyResponse says which
    if (rcode === 9 /* NOTAUTH */ || decoded.additional.some((r) => r.type === TYPE.TSIG)) verifyResponse(answer, signed, opts.key);
    if (rcode !== 0) {
      const why =
        rcode === 5
          ? ' (the server does not allow this key to update the zone)'
          : rcode === 9
            ? ' (the server is not authoritative for the zone, or refused the key)'
            : rcode === 10
              ? ` (${fqdn} is not in zone ${zone})`
              : '';
      throw new Error(`DNS update of ${fqdn} in zone ${zone} at ${opts.server} failed: ${rcodeName(rcode)}${why}`);
    }
  }

  return {
    async present(fqdn, value) {
      await update(fqdn, value, 'add');
      const until = Date.now() + visibleTimeoutMs;
      // the CA asks the authoritative servers: tell it only once ours answers the record
      while (!(await txtValues(server, fqdn).catch(() => [] as string[])).includes(value)) {
        if (Date.now() > until) throw new Error(`${opts.server} did not answer the TXT record ${fqdn} within ${visibleTimeoutMs / 1000} s of the update`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    },
    cleanup: (fqdn, value) => update(fqdn, value, 'delete'),
  };
}

async function query(server: { host: string; port: number }, name: string, type: number): Promise<DnsMessage> {
  const id = newMessageId();
  const decoded = decodeMessage(await exchange(server, encodeQuery(id, name, type)));
  if (decoded.id !== id) throw new Error('DNS answer with another id');
  return decoded;
}

/** The TXT values the server answers for `name` (authoritatively, no recursion). */
export async function txtValues(server: { host: string; port: number }, name: string): Promise<string[]> {
  const answer = await query(server, name, TYPE.TXT);
  const want = name.toLowerCase().replace(/\.$/, '');
  return answer.answers.filter((r) => r.type === TYPE.TXT && r.name === want).map((r) => decodeTxt(r.data));
}

/**
 * The zone `name` lives in, as the server sees it: the owner of the SOA it answers with (in the
 * answer for an apex, in the authority section otherwise); a REFUSED answer means "not mine",
 * so the parent name is asked next.
 */
export async function findZone(server: { host: string; port: number }, name: string): Promise<string> {
  let labels = name.toLowerCase().replace(/\.$/, '').split('.');
  while (labels.length > 0) {
    const candidate = labels.join('.');
    const answer = await query(server, candidate, TYPE.SOA);
    const soa = [...answer.answers, ...answer.authority].find((r) => r.type === TYPE.SOA);
    if (soa !== undefined && (rcodeOf(answer) === 0 || rcodeOf(answer) === 3)) return soa.name;
    labels = labels.slice(1);
  }
  throw new Error(`${server.host}:${server.port} is authoritative for no zone above ${name}; set --dns01-zone`);
}
