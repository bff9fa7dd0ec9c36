import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** How far a signature's timestamp may be from the receiver's clock (docs/notifications.md). */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/** A webhook signing secret: shown once when the endpoint is made, then only its SecretBox ciphertext is kept. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/**
 * The `Slipway-Signature` header of a body sent at `unixSeconds`: HMAC-SHA256 with the
 * endpoint's secret over `<timestamp>.<body>`, so a captured request cannot be replayed once
 * its timestamp is out of the tolerance, nor its body changed.
 *
 * `signPayload('whsec_...', '{"id":...}', 1767225600)` -> "t=1767225600,v1=5f2b..."
 */
export function signPayload(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/**
 * What a receiver does (and what the tests do): parse the header, reject a timestamp outside
 * the tolerance, compare every v1 signature in constant time. Several v1 entries may appear.
 */
export function verifySignature(secret: string, body: string, header: string | undefined, nowSeconds = Math.floor(Date.now() / 1000), toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS): boolean {
  if (header === undefined) return false;
  let t: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const [k, v] = part.trim().split('=', 2);
    if (k === 't' && v !== undefined && /^\d+$/.test(v)) t = Number(v);
    if (k === 'v1' && v !== undefined) signatures.push(v);
  }
  if (t === undefined || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  return signatures.some((s) => {
    const given = Buffer.from(s);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
