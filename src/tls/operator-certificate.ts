import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { describeCertificate } from './certificates.js';
import type { TableCertificate } from './sni-table.js';

/** What a pair of files looked like when last read: a change in any part means read them again. */
export async function filesStamp(files: string[]): Promise<string> {
  const parts: string[] = [];
  for (const file of files) {
    // stat follows symlinks, so a certbot-style "live/" link moved to a new file counts too
    const s = await stat(file).catch(() => undefined);
    parts.push(s === undefined ? 'missing' : `${s.ino}:${s.size}:${s.mtimeMs}`);
  }
  return parts.join('|');
}

/**
 * The operator's own certificate (--tls-cert, --tls-key): the PEM chain (leaf first) and its
 * key, read from the files. Throws with what is wrong when they cannot be used (unreadable,
 * not PEM, a key that is not the certificate's), so the caller keeps what it had.
 */
export async function readOperatorCertificate(certFile: string, keyFile: string): Promise<TableCertificate> {
  const [certPem, keyPem] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certPem);
  } catch (error) {
    throw new Error(`${certFile} does not hold a PEM certificate`, { cause: error });
  }
  let matches: boolean;
  try {
    matches = leaf.checkPrivateKey(createPrivateKey(keyPem));
  } catch (error) {
    throw new Error(`${keyFile} does not hold a PEM private key`, { cause: error });
  }
  // a renewal tool that has written one file and not yet the other: try again on the next change
  if (!matches) throw new Error(`the key in ${keyFile} does not belong to the certificate in ${certFile}`);
  const { names, notAfter } = describeCertificate(certPem);
  if (names.length === 0) throw new Error(`${certFile} names no DNS host (subjectAltName); such a certificate covers no site`);
  return { names, certPem, keyPem, notAfter };
}
