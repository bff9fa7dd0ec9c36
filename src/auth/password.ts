import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashing with node's scrypt (memory-hard; no dependency).
 *
 * Parameters: N = 2^15, r = 8, p = 3. OWASP's Password Storage Cheat Sheet lists equally strong
 * scrypt settings (N=2^17,r=8,p=1 / 2^16,8,2 / 2^15,8,3 / 2^14,8,5 / 2^13,8,10): this one needs
 * 32 MiB per hash (128 * N * r bytes), so a burst of logins cannot take the machine's memory the
 * way 128 MiB each would, and costs ~0.3-0.6 s of one core here (measured in the README).
 *
 * Stored form (versioned, so parameters can change and old hashes still verify):
 *   `scrypt$1$<log2 N>$<r>$<p>$<salt base64url>$<key base64url>`
 * `needsRehash` says when a stored hash uses older parameters (rehash it at the next login).
 */
const CURRENT = { logN: 15, r: 8, p: 3 };
const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** at most this many hashes run at once: each takes 32 MiB and a libuv thread */
const MAX_PARALLEL = 2;

interface Params {
  logN: number;
  r: number;
  p: number;
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, CURRENT);
  return ['scrypt', '1', CURRENT.logN, CURRENT.r, CURRENT.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** True when `password` matches `stored`; the key comparison takes constant time. A malformed hash is false. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (parsed === undefined) return false;
  const key = await derive(password, parsed.salt, parsed.params);
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}

export function needsRehash(stored: string): boolean {
  const parsed = parse(stored);
  return parsed === undefined || parsed.params.logN !== CURRENT.logN || parsed.params.r !== CURRENT.r || parsed.params.p !== CURRENT.p;
}

/**
 * A hash of a password nobody knows, made once: a login for an unknown email verifies against
 * it, so it takes as long as a wrong password for a real account.
 */
let dummy: Promise<string> | undefined;
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(randomBytes(18).toString('base64url'));
  return dummy;
}

function parse(stored: string): { params: Params; salt: Buffer; key: Buffer } | undefined {
  const [kind, version, logN, r, p, salt, key] = stored.split('$');
  if (kind !== 'scrypt' || version !== '1' || salt === undefined || key === undefined) return undefined;
  const params = { logN: Number(logN), r: Number(r), p: Number(p) };
  // bounds keep a corrupted row from asking for gigabytes
  if (![params.logN, params.r, params.p].every(Number.isInteger) || params.logN < 10 || params.logN > 20 || params.r < 1 || params.r > 32 || params.p < 1 || params.p > 16) return undefined;
  return { params, salt: Buffer.from(salt, 'base64url'), key: Buffer.from(key, 'base64url') };
}

let running = 0;
const waiting: Array<() => void> = [];

async function derive(password: string, salt: Buffer, params: Params): Promise<Buffer> {
  if (running >= MAX_PARALLEL) await new Promise<void>((resolve) => waiting.push(resolve));
  running += 1;
  try {
    const N = 2 ** params.logN;
    const options: ScryptOptions = { N, r: params.r, p: params.p, maxmem: 128 * N * params.r * 2 };
    return await new Promise<Buffer>((resolve, reject) => scrypt(password.normalize('NFC'), salt, KEY_BYTES, options, (err, key) => (err === null ? resolve(key) : reject(err))));
  } finally {
    running -= 1;
    waiting.shift()?.();
  }
}
