import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';

/**
 * Encrypts secrets at rest (webhook secrets, environment variables) with AES-256-GCM under the
 * platform key. Stored form: "v1:<iv>:<tag>:<ciphertext>", all base64url.
 */
export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('secret key must be 32 bytes');
  }

  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return ['v1', iv, cipher.getAuthTag(), data].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join(':');
  }

  decrypt(stored: string): string {
    const [version, iv, tag, data] = stored.split(':');
    if (version !== 'v1' || iv === undefined || tag === undefined || data === undefined) throw new Error('unknown secret format');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
  }
}

/** Compare two strings in time that does not depend on where they differ (nor on their lengths). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** Check GitHub's `X-Hub-Signature-256: sha256=<hex>` over the raw body, in constant time. */
export function verifyGithubSignature(secret: string, body: Buffer, header: string | undefined): boolean {
  // exactly 64 hex digits: Buffer.from(…, 'hex') would silently stop at trailing junk
  if (header === undefined || !/^sha256=[0-9a-f]{64}$/i.test(header)) return false;
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  const expected = createHmac('sha256', secret).update(body).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The key that encrypts secrets at rest: 32 random bytes made once (mode 0600), read by every
 * process that shares the data dir. `new SecretBox(await loadSecretKey(join(dataDir, 'secret.key')))`
 */
export async function loadSecretKey(file: string): Promise<Buffer> {
  try {
    // project code runs as other users: a key they could read would open every secret
    const { mode } = await stat(file);
    if ((mode & 0o077) !== 0) throw new Error(`${file} can be read by other users (mode ${(mode & 0o777).toString(8)}); make it private with: chmod 600 ${file}`);
    const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
    if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte key; restore it from a backup (secrets encrypted under it cannot be read without it)`);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = randomBytes(32);
  try {
    await writeFile(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // another process made it first: use theirs
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadSecretKey(file);
    throw err;
  }
  return key;
}
