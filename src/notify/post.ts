import { lookup as dnsLookup } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { isPublicAddress } from '../edge/external-proxy.js';

export interface PostAnswer {
  status: number;
  /** the first KB of the answer */
  excerpt: string;
}

/** A refusal to connect: the target is not the public internet and the operator did not allow it. */
export class PrivateAddressError extends Error {}

/**
 * POST a JSON body to a URL a team gave. Slipway sends from the host's network, where a URL could
 * name the platform's own API, a metadata service or a private database, and the answer's
 * excerpt is shown to the team. So every address the name resolves to must be public (or one the
 * operator allowed with --notify-allow), and the connection goes to the address that was checked
 * (node's `lookup` hook): a rebinding DNS server gets no second chance. Redirects are not followed.
 */
export function postJson(url: string, headers: Record<string, string>, body: string, opts: { timeoutMs: number; allowed: (address: string) => boolean }): Promise<PostAnswer> {
  const target = new URL(url);
  const may = (address: string) => isPublicAddress(address) || opts.allowed(address);
  const lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err !== null) return callback(err, '', 0);
      const list = addresses as Array<{ address: string; family: number }>;
      const refused = list.find((a) => !may(a.address));
      if (refused !== undefined || list.length === 0) return callback(new PrivateAddressError(`${hostname} resolves to ${refused?.address ?? 'nothing'}, which is not a public address`), '', 0);
      if ((options as { all?: boolean }).all === true) return (callback as unknown as (e: null, a: typeof list) => void)(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
  return new Promise((resolve, reject) => {
    const literal = target.hostname.replace(/^\[|\]$/g, '');
    if (isIP(literal) !== 0 && !may(literal)) return reject(new PrivateAddressError(`${literal} is not a public address`));
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, lookup }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < 1024) chunks.push(c);
        size += c.length;
        // the rest of a long answer is not wanted: stop reading it
        if (size >= 1024) res.destroy();
      });
      const done = () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, excerpt: Buffer.concat(chunks).subarray(0, 1024).toString('utf8') });
      };
      res.on('end', done);
      res.on('close', done);
    });
    // the whole exchange, not only each silence between bytes
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(body);
  });
}
