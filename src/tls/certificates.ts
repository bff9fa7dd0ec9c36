import { X509Certificate, createPrivateKey } from 'node:crypto';
import { newId } from '../ids.js';
import type { SecretBox } from '../secrets.js';
import { bumpCounter, readCounter, type Certificate, type Db } from '../store/index.js';

/** A certificate ready for a TLS context: decrypted key, the names it covers, its validity. */
export interface LoadedCertificate {
  id: string;
  names: string[];
  source: Certificate['source'];
  certPem: string;
  keyPem: string;
  notBefore: number;
  notAfter: number;
  renewAt: number | null;
  renewFailures: number;
  lastError: string | null;
}

/** What a PEM chain's leaf says about itself: the DNS names it covers and when it is valid. */
export function describeCertificate(certPem: string): { names: string[]; notBefore: number; notAfter: number } {
  const leaf = new X509Certificate(certPem);
  const names = (leaf.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase());
  return { names, notBefore: Date.parse(leaf.validFrom), notAfter: Date.parse(leaf.validTo) };
}

/**
 * Store a certificate and its key (encrypted under the platform key) for every edge process,
 * replacing an older one of the same source that covers exactly the same names; bumps
 * tls_generation so the edges load it. Throws if the key does not belong to the certificate.
 */
export async function saveCertificate(db: Db, box: SecretBox, input: { certPem: string; keyPem: string; source: Certificate['source']; renewAt: number | null }): Promise<LoadedCertificate> {
  const { names, notBefore, notAfter } = describeCertificate(input.certPem);
  const leaf = new X509Certificate(input.certPem);
  if (!leaf.checkPrivateKey(createPrivateKey(input.keyPem))) throw new Error('the private key does not belong to the certificate');
  const sorted = [...names].sort();
  const now = Date.now();
  const id = newId('crt');
  const existing = await db.selectFrom('certificates').select(['id', 'names']).where('source', '=', input.source).execute();
  const replaced = existing.filter((row) => JSON.stringify((JSON.parse(row.names) as string[]).sort()) === JSON.stringify(sorted)).map((row) => row.id);
  // the new one goes in before the old one goes: an edge that reloads in between finds both (and
  // serves the one valid longer), never neither and its self-signed default
  await db
    .insertInto('certificates')
    .values({
      id,
      names: JSON.stringify(sorted),
      source: input.source,
      cert_pem: input.certPem,
      key_enc: box.encrypt(input.keyPem),
      not_before: notBefore,
      not_after: notAfter,
      renew_at: input.renewAt,
      renew_failures: 0,
      last_error: null,
      created_at: now,
      updated_at: now,
    })
    .execute();
  if (replaced.length > 0) await db.deleteFrom('certificates').where('id', 'in', replaced).execute();
  await bumpCounter(db, 'tls_generation');
  return { id, names: sorted, source: input.source, certPem: input.certPem, keyPem: input.keyPem, notBefore, notAfter, renewAt: input.renewAt, renewFailures: 0, lastError: null };
}

/** Every stored certificate, keys decrypted (for the edge's SNI table and the renewal loop). */
export async function loadCertificates(db: Db, box: SecretBox): Promise<LoadedCertificate[]> {
  const rows = await db.selectFrom('certificates').selectAll().execute();
  return rows.map((row) => ({
    id: row.id,
    names: JSON.parse(row.names) as string[],
    source: row.source,
    certPem: row.cert_pem,
    keyPem: box.decrypt(row.key_enc),
    notBefore: Number(row.not_before),
    notAfter: Number(row.not_after),
    renewAt: row.renew_at === null ? null : Number(row.renew_at),
    renewFailures: row.renew_failures,
    lastError: row.last_error,
  }));
}

export async function deleteCertificate(db: Db, id: string): Promise<void> {
  await db.deleteFrom('certificates').where('id', '=', id).execute();
  await bumpCounter(db, 'tls_generation');
}

/** Changes whenever a certificate or a TLS-ALPN-01 challenge is added, replaced or removed. */
export function tlsGeneration(db: Db): Promise<number> {
  return readCounter(db, 'tls_generation');
}

/** Does a certificate name ("example.com", "*.example.com") cover this host? A wildcard covers exactly one label. */
export function nameCovers(name: string, host: string): boolean {
  if (name === host) return true;
  if (!name.startsWith('*.')) return false;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === name.slice(2);
}
