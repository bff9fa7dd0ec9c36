import { isIP } from 'node:net';
import { AppError } from '../errors/index.js';
import type { Dns01Config } from './index.js';

// The settings of custom domains and certificates: the DNS records a domain needs, the resolver
// that checks them, and the ACME challenges (DNS-01 through RFC 2136).

/** a DNS name of two labels or more, lowercase */
export const DNS_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;

export function parsePublicIps(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const ips = raw
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  for (const ip of ips) {
    if (isIP(ip) === 0) throw new AppError('CONFIG', `--public-ip takes IPv4 or IPv6 addresses, got ${JSON.stringify(ip)}.`, { hint: 'For example: --public-ip 203.0.113.7,2001:db8::7' });
  }
  return ips;
}

/** "host:port" entries ("[::1]:53" for IPv6); the port defaults to 53 */
export function parseDnsServers(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const servers = raw
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  for (const server of servers) {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+))(?::(\d{1,5}))?$/.exec(server);
    const ok = m !== null && isIP(m[1] ?? m[2] ?? '') !== 0 && (m[3] === undefined || (Number(m[3]) >= 1 && Number(m[3]) <= 65535));
    if (!ok) throw new AppError('CONFIG', `SLIPWAY_DNS_SERVERS takes ip:port entries, got ${JSON.stringify(server)}.`, { hint: 'For example: SLIPWAY_DNS_SERVERS=127.0.0.1:5353,[::1]:53' });
  }
  return servers;
}

export function parseAcmeChallenge(raw: string | undefined): 'http-01' | 'tls-alpn-01' {
  if (raw === undefined || raw === 'http-01' || raw === 'tls-alpn-01') return raw ?? 'http-01';
  throw new AppError('CONFIG', `--acme-challenge is http-01 or tls-alpn-01, got ${JSON.stringify(raw)}.`, {
    hint: 'For example: --acme-challenge tls-alpn-01 (when only port 443 reaches this machine)',
  });
}

const TSIG_ALGORITHMS = ['hmac-sha1', 'hmac-sha224', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512'];

/** --dns01-server and its TSIG key go together; the secret usually comes from SLIPWAY_DNS01_TSIG_SECRET. */
export function parseDns01(pick: (flag: string, envName: string) => string | undefined): Dns01Config | undefined {
  const server = pick('dns01-server', 'SLIPWAY_DNS01_SERVER');
  const zone = pick('dns01-zone', 'SLIPWAY_DNS01_ZONE')?.toLowerCase().replace(/\.$/, '');
  const name = pick('dns01-tsig-name', 'SLIPWAY_DNS01_TSIG_NAME');
  const algorithm = (pick('dns01-tsig-algorithm', 'SLIPWAY_DNS01_TSIG_ALGORITHM') ?? 'hmac-sha256').toLowerCase();
  const secret = pick('dns01-tsig-secret', 'SLIPWAY_DNS01_TSIG_SECRET');
  const example = 'For example: --dns01-server 192.0.2.53:53 --dns01-tsig-name acme-key with SLIPWAY_DNS01_TSIG_SECRET=<base64 secret>';
  if (server === undefined) {
    if (name !== undefined || secret !== undefined || zone !== undefined) throw new AppError('CONFIG', '--dns01-zone and --dns01-tsig-* need --dns01-server.', { hint: example });
    return undefined;
  }
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(server)) throw new AppError('CONFIG', `--dns01-server takes host:port, got ${JSON.stringify(server)}.`, { hint: example });
  if (name === undefined || secret === undefined)
    throw new AppError('CONFIG', '--dns01-server needs a TSIG key: --dns01-tsig-name and --dns01-tsig-secret (SLIPWAY_DNS01_TSIG_SECRET).', { hint: example });
  if (!TSIG_ALGORITHMS.includes(algorithm))
    throw new AppError('CONFIG', `--dns01-tsig-algorithm is one of ${TSIG_ALGORITHMS.join(', ')}, got ${JSON.stringify(algorithm)}.`, { hint: 'For example: --dns01-tsig-algorithm hmac-sha256' });
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(secret) || Buffer.from(secret, 'base64').length < 16) {
    throw new AppError('CONFIG', '--dns01-tsig-secret (SLIPWAY_DNS01_TSIG_SECRET) must be the base64 secret of the key, at least 16 bytes.', {
      hint: 'Use the secret "..." value that tsig-keygen -a hmac-sha256 acme-key prints.',
    });
  }
  if (zone !== undefined && !DNS_NAME.test(zone)) throw new AppError('CONFIG', `--dns01-zone must be a DNS name, got ${JSON.stringify(zone)}.`, { hint: 'For example: --dns01-zone example.com' });
  return Object.freeze({ server, zone, tsig: Object.freeze({ name, algorithm, secret }) });
}
