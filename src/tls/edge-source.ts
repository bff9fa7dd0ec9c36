import type { SecretBox } from '../secrets.js';
import type { Db } from '../store/index.js';
import { loadCertificates, tlsGeneration, type LoadedCertificate } from './certificates.js';

/** A pending TLS-ALPN-01 answer: the certificate (with the acmeIdentifier extension) to show for `name`. */
export interface AlpnChallenge {
  name: string;
  certPem: string;
  keyPem: string;
  expiresAt: number;
}

/** What an HTTPS edge process serves by SNI, and how it learns that it changed. */
export interface TlsSource {
  /** changes whenever a certificate or a TLS-ALPN-01 challenge is added, replaced or removed */
  generation(): Promise<number>;
  load(): Promise<{ certificates: LoadedCertificate[]; challenges: AlpnChallenge[] }>;
}

/**
 * The store as an edge's TlsSource: every certificate (keys decrypted) and every pending,
 * unexpired TLS-ALPN-01 challenge (row value: box-encrypted JSON { certPem, keyPem }).
 */
export function createStoreTlsSource(db: Db, box: SecretBox): TlsSource {
  return {
    generation: () => tlsGeneration(db),
    async load() {
      const certificates = await loadCertificates(db, box);
      const rows = await db.selectFrom('acme_challenges').selectAll().where('kind', '=', 'tls-alpn-01').where('expires_at', '>', Date.now()).execute();
      const challenges: AlpnChallenge[] = [];
      for (const row of rows) {
        const { certPem, keyPem } = JSON.parse(box.decrypt(row.value)) as { certPem: string; keyPem: string };
        challenges.push({ name: row.key.toLowerCase(), certPem, keyPem, expiresAt: Number(row.expires_at) });
      }
      return { certificates, challenges };
    },
  };
}
