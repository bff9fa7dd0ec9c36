import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A random id that is also a valid DNS label part: lower-case letters and digits, starting
 * with a letter, so `<deployment-id>--<project>.<base>` is a hostname. `newId('d')` -> "dk3v9x0q2m7a"
 */
export function newId(prefix: string, length = 12): string {
  const bytes = randomBytes(length * 2);
  let out = prefix;
  for (let i = 0; out.length < length; i++) out += ALPHABET[bytes[i]! % 36];
  return out;
}

/** A secret for webhooks and tokens: 32 random bytes, hex. */
export function newSecret(): string {
  return randomBytes(32).toString('hex');
}
