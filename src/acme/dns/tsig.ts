import { createHmac, timingSafeEqual } from 'node:crypto';
import { CLASS, TYPE, decodeMessage, encodeName, encodeRecord, readName, rcodeName } from './message.js';

/** A TSIG key as BIND's `key` statement and nsupdate's `-y algorithm:name:secret` take it. */
export interface TsigKey {
  name: string;
  /** "hmac-sha256" (also hmac-sha1, hmac-sha224, hmac-sha384, hmac-sha512) */
  algorithm: string;
  /** the shared secret, base64 */
  secret: string;
}

const DIGESTS: Record<string, string> = {
  'hmac-sha1': 'sha1',
  'hmac-sha224': 'sha224',
  'hmac-sha256': 'sha256',
  'hmac-sha384': 'sha384',
  'hmac-sha512': 'sha512',
};
export const TSIG_ALGORITHMS = Object.keys(DIGESTS);

/** seconds the signer's and verifier's clocks may differ (RFC 8945 recommends 300) */
const FUDGE = 300;

/** What a signed request leaves for verifying its answer. */
export interface SignedRequest {
  message: Buffer;
  mac: Buffer;
}

function digestOf(algorithm: string): string {
  const digest = DIGESTS[algorithm.toLowerCase()];
  if (digest === undefined) throw new Error(`unsupported TSIG algorithm ${JSON.stringify(algorithm)}; use one of ${TSIG_ALGORITHMS.join(', ')}`);
  return digest;
}

function time48(seconds: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(Math.floor(seconds / 2 ** 32), 0);
  b.writeUInt32BE(seconds % 2 ** 32, 2);
  return b;
}

/** The TSIG variables of RFC 8945 §4.3.3, in the canonical form the MAC covers. */
function variables(key: TsigKey, timeSigned: number, fudge: number, error: number, other: Buffer): Buffer {
  const classTtl = Buffer.alloc(6);
  classTtl.writeUInt16BE(CLASS.ANY, 0);
  classTtl.writeUInt32BE(0, 2);
  const tail = Buffer.alloc(6);
  tail.writeUInt16BE(fudge, 0);
  tail.writeUInt16BE(error, 2);
  tail.writeUInt16BE(other.length, 4);
  return Buffer.concat([encodeName(key.name), classTtl, encodeName(key.algorithm), time48(timeSigned), tail, other]);
}

/**
 * Append a TSIG record (RFC 8945) to a complete message: the MAC covers the message as it is
 * and the TSIG variables; ARCOUNT grows by one. `now` is for tests.
 */
export function signMessage(message: Buffer, key: TsigKey, now = Date.now()): SignedRequest {
  const digest = digestOf(key.algorithm);
  const secret = Buffer.from(key.secret, 'base64');
  const timeSigned = Math.floor(now / 1000);
  const mac = createHmac(digest, secret)
    .update(message)
    .update(variables(key, timeSigned, FUDGE, 0, Buffer.alloc(0)))
    .digest();
  const rdata = tsigRdata(key.algorithm, timeSigned, FUDGE, mac, message.readUInt16BE(0), 0, Buffer.alloc(0));
  const signed = Buffer.concat([message, encodeRecord({ name: key.name, type: TYPE.TSIG, class: CLASS.ANY, ttl: 0, data: rdata })]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { message: signed, mac };
}

function tsigRdata(algorithm: string, timeSigned: number, fudge: number, mac: Buffer, originalId: number, error: number, other: Buffer): Buffer {
  const a = Buffer.alloc(4);
  a.writeUInt16BE(fudge, 0);
  a.writeUInt16BE(mac.length, 2);
  const b = Buffer.alloc(6);
  b.writeUInt16BE(originalId, 0);
  b.writeUInt16BE(error, 2);
  b.writeUInt16BE(other.length, 4);
  return Buffer.concat([encodeName(algorithm), time48(timeSigned), a, mac, b, other]);
}

interface ParsedTsig {
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
}

function parseTsigRdata(data: Buffer): ParsedTsig {
  // the algorithm name in TSIG rdata is never compressed (RFC 8945 §4.2)
  const { name: algorithm, next } = readName(data, 0);
  let pos = next;
  const timeSigned = data.readUInt16BE(pos) * 2 ** 32 + data.readUInt32BE(pos + 2);
  const fudge = data.readUInt16BE(pos + 6);
  const macLen = data.readUInt16BE(pos + 8);
  pos += 10;
  const mac = data.subarray(pos, pos + macLen);
  pos += macLen;
  const originalId = data.readUInt16BE(pos);
  const error = data.readUInt16BE(pos + 2);
  const otherLen = data.readUInt16BE(pos + 4);
  return { algorithm, timeSigned, fudge, mac, originalId, error, other: data.subarray(pos + 6, pos + 6 + otherLen) };
}

/**
 * Check the TSIG on an answer to a signed request (RFC 8945 §5.3): it must be signed with the
 * same key, its MAC must cover the request's MAC and the answer, and its time must be within
 * the fudge. Throws with what is wrong (including the server's own TSIG error: BADSIG, BADKEY, BADTIME).
 */
export function verifyResponse(response: Buffer, request: SignedRequest, key: TsigKey, now = Date.now()): void {
  const decoded = decodeMessage(response);
  const tsig = decoded.additional.at(-1);
  if (tsig === undefined || tsig.type !== TYPE.TSIG) throw new Error('the DNS server answered without a TSIG signature (is the key known to it?)');
  if (tsig.name !== key.name.toLowerCase().replace(/\.$/, '')) throw new Error(`the answer is signed with key ${tsig.name}, not ${key.name}`);
  const t = parseTsigRdata(tsig.data);
  if (t.error !== 0)
    throw new Error(
      `the DNS server refused the TSIG signature: ${rcodeName(t.error)}${t.error === 16 ? ' (wrong secret?)' : t.error === 17 ? ' (unknown key name or algorithm?)' : t.error === 18 ? ' (clocks differ by more than 5 minutes?)' : ''}`,
    );
  if (t.algorithm !== key.algorithm.toLowerCase()) throw new Error(`the answer is signed with ${t.algorithm}, not ${key.algorithm}`);
  // the message as it was before the server added its TSIG: cut it off, one record fewer, the original id
  const unsigned = Buffer.from(response.subarray(0, tsig.offset));
  unsigned.writeUInt16BE(decoded.additional.length - 1, 10);
  unsigned.writeUInt16BE(t.originalId, 0);
  const requestMac = Buffer.alloc(2);
  requestMac.writeUInt16BE(request.mac.length, 0);
  const expected = createHmac(digestOf(key.algorithm), Buffer.from(key.secret, 'base64'))
    .update(requestMac)
    .update(request.mac)
    .update(unsigned)
    .update(variables(key, t.timeSigned, t.fudge, t.error, t.other))
    .digest();
  if (t.mac.length !== expected.length || !timingSafeEqual(t.mac, expected)) throw new Error("the DNS server's answer has a TSIG signature that does not verify");
  if (Math.abs(Math.floor(now / 1000) - t.timeSigned) > t.fudge) throw new Error("the DNS server's signed answer is outside the allowed time difference");
}
