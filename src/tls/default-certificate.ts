import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { SecretBox } from '../secrets.js';
import type { Db } from '../store/index.js';
import { loadCertificates, saveCertificate, type LoadedCertificate } from './certificates.js';

/** The name the default certificate is for: `.invalid` never resolves, so it can never be a real site. */
export const DEFAULT_CERTIFICATE_NAME = 'slipway.invalid';

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/**
 * A self-signed certificate for `names` (P-256, valid from an hour ago for `days`).
 * `const { certPem, keyPem } = await selfSignedCertificate([DEFAULT_CERTIFICATE_NAME], 3650)`
 */
export async function selfSignedCertificate(names: string[], days: number): Promise<{ certPem: string; keyPem: string }> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1'),
    name: `CN=${names[0] ?? DEFAULT_CERTIFICATE_NAME}`,
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(now + days * 86_400_000),
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: 'dns' as const, value }))),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
  return { certPem: cert.toString('pem') + '\n', keyPem };
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
  const made = await selfSignedCertificate([DEFAULT_CERTIFICATE_NAME], 3650);
  return saveCertificate(db, box, { ...made, source: 'self-signed', renewAt: null });
}
