import { generateKeyPairSync } from 'node:crypto';
import type { SecretBox } from '../secrets.js';
import type { Db } from '../store/index.js';
import { loadCertificates, saveCertificate, type LoadedCertificate } from './certificates.js';
import { createCertificatePem } from './x509-der.js';

/** The name the default certificate is for: `.invalid` never resolves, so it can never be a real site. */
export const DEFAULT_CERTIFICATE_NAME = 'slipway.invalid';

/**
 * A self-signed certificate for `names` (P-256, valid from an hour ago for `days`).
 * `const { certPem, keyPem } = selfSignedCertificate([DEFAULT_CERTIFICATE_NAME], 3650)`
 */
export function selfSignedCertificate(names: string[], days: number): { certPem: string; keyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = Date.now();
  const certPem = createCertificatePem({
    commonName: names[0] ?? DEFAULT_CERTIFICATE_NAME,
    dnsNames: names,
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(now + days * 86_400_000),
    publicKey,
    selfKey: privateKey,
  });
  return { certPem, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/**
 * The certificate every edge process presents to a client that names a host Slipway has no
 * certificate for (or names none): made once per installation and kept in the store with the
 * others (source 'self-signed'), so that every edge process presents the same one. Made again
 * when it is within 30 days of expiring.
 */
export async function ensureDefaultCertificate(db: Db, box: SecretBox): Promise<LoadedCertificate> {
  const soon = Date.now() + 30 * 86_400_000;
  const existing = (await loadCertificates(db, box)).find((c) => c.source === 'self-signed' && c.notAfter > soon);
  if (existing !== undefined) return existing;
  return saveCertificate(db, box, { ...selfSignedCertificate([DEFAULT_CERTIFICATE_NAME], 3650), source: 'self-signed', renewAt: null });
}
