import { createSecureContext, type SecureContext } from 'node:tls';
import { nameCovers, type LoadedCertificate } from './certificates.js';
import type { AlpnChallenge } from './edge-source.js';

/** A certificate as the SNI table holds it: the names, the chain and key, when it stops being valid. */
export interface TableCertificate {
  names: string[];
  certPem: string;
  keyPem: string;
  notAfter: number;
}

interface Entry {
  context: SecureContext;
  notAfter: number;
}

/**
 * The certificates one edge process serves, by host name: the operator's own certificate
 * (--tls-cert) for every name it covers, else a stored certificate for the exact name, else one
 * for a wildcard one label up, else none (the server's default certificate). Lookups are Map
 * reads; the table is rebuilt whole when the store or the operator's files change.
 */
export class SniTable {
  private exact = new Map<string, Entry>();
  /** "*.example.com" is kept under "example.com" */
  private wildcard = new Map<string, Entry>();
  private operator: { names: string[]; entry: Entry } | undefined;
  private challenges = new Map<string, SecureContext>();
  /** the latest valid self-signed certificate from the store: the server's default */
  defaultCertificate: TableCertificate | undefined;
  /** when a certificate in the table stops being valid: the table should be rebuilt then */
  nextExpiry = Infinity;

  /** Rebuild from the stored certificates and challenges; expired or not-yet-valid ones are left out. */
  setStored(certificates: LoadedCertificate[], challenges: AlpnChallenge[], now = Date.now()): void {
    const exact = new Map<string, Entry>();
    const wildcard = new Map<string, Entry>();
    let fallback: LoadedCertificate | undefined;
    let nextExpiry = this.operator?.entry.notAfter ?? Infinity;
    const contexts = new Map<string, SecureContext>();
    const contextOf = (c: LoadedCertificate): SecureContext => {
      let context = contexts.get(c.id);
      if (context === undefined) contexts.set(c.id, (context = createSecureContext({ cert: c.certPem, key: c.keyPem })));
      return context;
    };
    for (const c of certificates) {
      if (c.notBefore > now || c.notAfter <= now) continue;
      if (c.source === 'self-signed') {
        if (fallback === undefined || c.notAfter > fallback.notAfter) fallback = c;
        continue;
      }
      nextExpiry = Math.min(nextExpiry, c.notAfter);
      for (const name of c.names) {
        const table = name.startsWith('*.') ? wildcard : exact;
        const key = name.startsWith('*.') ? name.slice(2) : name;
        const held = table.get(key);
        // two certificates for one name (a renewal and the one it replaces): the one valid longer
        if (held === undefined || c.notAfter > held.notAfter) table.set(key, { context: contextOf(c), notAfter: c.notAfter });
      }
    }
    const pending = new Map<string, SecureContext>();
    for (const ch of challenges) {
      if (ch.expiresAt <= now) continue;
      nextExpiry = Math.min(nextExpiry, ch.expiresAt);
      pending.set(ch.name, createSecureContext({ cert: ch.certPem, key: ch.keyPem }));
    }
    this.exact = exact;
    this.wildcard = wildcard;
    this.challenges = pending;
    this.nextExpiry = nextExpiry;
    this.defaultCertificate = fallback === undefined ? undefined : { names: fallback.names, certPem: fallback.certPem, keyPem: fallback.keyPem, notAfter: fallback.notAfter };
  }

  /** The operator's own certificate (undefined: none); it wins for every name it covers. */
  setOperator(cert: TableCertificate | undefined): void {
    this.operator = cert === undefined ? undefined : { names: cert.names, entry: { context: createSecureContext({ cert: cert.certPem, key: cert.keyPem }), notAfter: cert.notAfter } };
    if (cert !== undefined) this.nextExpiry = Math.min(this.nextExpiry, cert.notAfter);
  }

  /** The context for an SNI name (lower-case, no trailing dot); undefined: the default certificate. */
  contextFor(servername: string): SecureContext | undefined {
    const operator = this.operator;
    if (operator?.names.some((name) => nameCovers(name, servername))) return operator.entry.context;
    const exact = this.exact.get(servername);
    if (exact !== undefined) return exact.context;
    const dot = servername.indexOf('.');
    return dot > 0 ? this.wildcard.get(servername.slice(dot + 1))?.context : undefined;
  }

  /** Does a real certificate (not the default one) cover this host? */
  covers(host: string): boolean {
    return this.contextFor(host) !== undefined;
  }

  get hasChallenges(): boolean {
    return this.challenges.size > 0;
  }

  /** The TLS-ALPN-01 certificate pending for this name, if any. */
  challengeFor(name: string): SecureContext | undefined {
    return this.challenges.get(name);
  }
}
