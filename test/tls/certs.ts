import { generateKeyPairSync } from 'node:crypto';
import { createCertificatePem } from '../../src/tls/x509-der.js';

export interface TestCa {
  certPem: string;
  /** a leaf for `names` signed by this CA: valid from an hour ago for `days` (default 30) */
  issue(names: string[], opts?: { days?: number }): Promise<{ certPem: string; keyPem: string }>;
}

const HOUR = 3_600_000;

/** A certificate authority made by the test, to sign the test's own leaf certificates. */
export async function makeTestCa(commonName = 'Slipway test CA'): Promise<TestCa> {
  const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = Date.now();
  const certPem = createCertificatePem({
    commonName,
    dnsNames: [],
    notBefore: new Date(now - HOUR),
    notAfter: new Date(now + 90 * 24 * HOUR),
    publicKey: ca.publicKey,
    selfKey: ca.privateKey,
    ca: true,
  });
  return {
    certPem,
    async issue(names, opts = {}) {
      const leaf = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const leafPem = createCertificatePem({
        commonName: names[0]!,
        dnsNames: names,
        notBefore: new Date(Date.now() - HOUR),
        notAfter: new Date(Date.now() + (opts.days ?? 30) * 24 * HOUR),
        publicKey: leaf.publicKey,
        issuer: { commonName, privateKey: ca.privateKey },
      });
      return { certPem: leafPem, keyPem: leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
    },
  };
}
