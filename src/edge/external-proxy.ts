import { lookup as dnsLookup } from 'node:dns/promises';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request, type RequestOptions } from 'node:https';
import { BlockList, isIP } from 'node:net';
import { pipeline } from 'node:stream';

/*
 * A site rule's rewrite to an outside https:// URL, proxied by the edge. This runs on the host,
 * outside any sandbox, with the host's network: a rule could name the platform's own API, a
 * metadata service or a private database. So the name is resolved here, every address it has is
 * checked against the ranges that are not the public internet, and the connection goes to the
 * checked address itself (no second lookup a rebinding DNS server could answer differently).
 */

/** Ranges that are never the public internet: loopback, private, link-local, CGNAT, multicast, reserved. */
const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  BLOCKED.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  BLOCKED.addSubnet(net, prefix, 'ipv6');

/** true when `address` is a public unicast address the proxy may connect to. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  if (family === 6) {
    // an IPv4-mapped address ("::ffff:127.0.0.1") is that IPv4 address
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped !== null) return isPublicAddress(mapped[1]!);
  }
  return !BLOCKED.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export interface ExternalProxyOptions {
  /** which resolved addresses may be dialled (default isPublicAddress); tests allow their own loopback server */
  allowAddress?: (address: string) => boolean;
  /** extra CA certificates to trust (tests); default the system's */
  ca?: string | Buffer;
  /** until the upstream's response head arrives, ms (default 10 s) */
  responseTimeoutMs?: number;
  /** no bytes either way for this long ends the exchange, ms (default 60 s) */
  idleTimeoutMs?: number;
  report?: (message: string, error?: unknown) => void;
  /** how the client reached the edge (x-forwarded-proto; default 'http') */
  proto?: 'http' | 'https';
  /** the Host the client asked for (x-forwarded-host; HTTP/2 carries it as :authority, not Host) */
  host?: string;
  /**
   * dial this endpoint of the operator's instead of `url`'s host (an AWS VPC endpoint, a test
   * stand-in; http or https), still sending `url`'s host as Host and TLS name. It is the
   * platform's own configuration, never a repository's, so its address is not checked.
   */
  connect?: URL;
}

export type ProxyRefusal = { status: 502 | 504; reason: string };

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'http2-settings']);

/**
 * Proxy `req` to `url` (https only) and stream the answer to `res` with `extra` headers
 * (name, value, ...) replacing the upstream's of the same name. Resolves when done; never
 * rejects. Before any byte is sent a failure calls `refuse` with the status and reason to show.
 */
export async function proxyExternal(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  extra: readonly string[],
  refuse: (refusal: ProxyRefusal) => void,
  opts: ExternalProxyOptions = {},
): Promise<void> {
  if (url.protocol !== 'https:') return refuse({ status: 502, reason: `only https:// targets are proxied, not ${url.protocol}//` });
  if (url.username !== '' || url.password !== '') return refuse({ status: 502, reason: 'targets with credentials in the URL are not proxied' });
  const allow = opts.allowAddress ?? isPublicAddress;
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  let address: string;
  if (opts.connect !== undefined) address = opts.connect.hostname.startsWith('[') ? opts.connect.hostname.slice(1, -1) : opts.connect.hostname;
  else
    try {
      const addresses = isIP(hostname) !== 0 ? [hostname] : (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => a.address);
      // every address the name has must be public: otherwise the next lookup could pick the private one
      const blocked = addresses.find((a) => !allow(a));
      if (blocked !== undefined) return refuse({ status: 502, reason: `${hostname} resolves to ${blocked}, which is not a public internet address` });
      if (addresses.length === 0) return refuse({ status: 502, reason: `${hostname} has no address` });
      address = addresses[0]!;
    } catch (err) {
      return refuse({ status: 502, reason: `${hostname} could not be resolved (${(err as NodeJS.ErrnoException).code ?? 'error'})` });
    }

  const headers: OutgoingHttpHeaders = {};
  const dropped = new Set(HOP_BY_HOP);
  for (const token of (req.headers.connection ?? '').split(',')) dropped.add(token.trim().toLowerCase());
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    // HTTP/2 pseudo-headers (":authority", ":path") are not headers of the outgoing HTTP/1.1 request
    if (dropped.has(name) || name.startsWith(':')) continue;
    const value = raw[i + 1]!;
    const existing = headers[name];
    headers[name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [String(existing), value];
  }
  headers.host = url.host;
  const clientIp = req.socket.remoteAddress ?? '';
  const forwardedFor = req.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = forwardedFor === undefined ? clientIp : `${String(forwardedFor)}, ${clientIp}`;
  headers['x-forwarded-host'] = opts.host ?? req.headers.host ?? '';
  headers['x-forwarded-proto'] = opts.proto ?? 'http';

  const plain = opts.connect?.protocol === 'http:';
  const dialPort = opts.connect === undefined ? url.port : opts.connect.port;
  const options: RequestOptions = {
    host: address,
    port: dialPort === '' ? (plain ? 80 : 443) : Number(dialPort),
    path: `${url.pathname}${url.search}`,
    method: req.method,
    headers,
    agent: false,
    // the certificate must be valid for the name in the rule, though we dial the address we checked
    ...(isIP(hostname) === 0 ? { servername: hostname } : {}),
    ...(opts.ca === undefined ? {} : { ca: opts.ca }),
  };
  await new Promise<void>((resolve) => {
    let answered = false;
    const upstream = (plain ? httpRequest : request)(options, (answer) => {
      answered = true;
      clearTimeout(headTimer);
      const out: string[] = [];
      const replaced = new Set<string>();
      for (let i = 0; i < extra.length; i += 2) replaced.add(extra[i]!.toLowerCase());
      const rawOut = answer.rawHeaders;
      for (let i = 0; i < rawOut.length; i += 2) {
        const name = rawOut[i]!.toLowerCase();
        if (HOP_BY_HOP.has(name) || replaced.has(name)) continue;
        out.push(rawOut[i]!, rawOut[i + 1]!);
      }
      out.push(...extra);
      res.writeHead(answer.statusCode ?? 502, out);
      pipeline(answer, res, (error) => {
        if (error !== undefined && error !== null && (error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') opts.report?.(`proxying to ${url.host} failed mid-answer`, error);
        resolve();
      });
    });
    const headTimer = setTimeout(() => upstream.destroy(Object.assign(new Error('no answer in time'), { code: 'ETIMEDOUT' })), opts.responseTimeoutMs ?? 10_000);
    upstream.setTimeout(opts.idleTimeoutMs ?? 60_000, () => upstream.destroy(Object.assign(new Error('idle'), { code: 'ETIMEDOUT' })));
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(headTimer);
      if (answered) {
        res.destroy();
        resolve();
        return;
      }
      refuse(error.code === 'ETIMEDOUT' ? { status: 504, reason: `${url.host} did not answer in time` } : { status: 502, reason: `${url.host} could not be reached (${error.code ?? error.message})` });
      resolve();
    });
    // the client going away ends the upstream exchange too
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    if (req.method === 'GET' || req.method === 'HEAD') upstream.end();
    else pipeline(req, upstream, () => {});
  });
}
