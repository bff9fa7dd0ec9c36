import type { Generated } from 'kysely';

/** Tables of custom domains, certificates and ACME (issue 9). */
export type DomainStatus = 'pending-dns' | 'pending-certificate' | 'active' | 'error';

export interface DomainTable {
  /** lower-case, punycode, no trailing dot; "*.example.com" for a wildcard */
  name: string;
  project_id: string;
  /** the alias it serves: 'production' (environments later) */
  environment: string;
  /** set: a redirect domain to this host (path and query kept) */
  redirect_to: string | null;
  /** 301, 302, 307 or 308 (null: 308) */
  redirect_status: number | null;
  status: DomainStatus;
  /** what to do next: the DNS record to create, or the ACME problem text */
  status_detail: string | null;
  dns_checked_at: number | null;
  /** when the background check looks again (backoff); null: not scheduled */
  next_check_at: number | null;
  check_failures: number;
  /** JSON { apex, cname, addresses, error? }: what the last DNS check saw (null: not checked yet) */
  dns_seen: string | null;
  created_at: number;
  updated_at: number;
}

export interface CertificateTable {
  id: string;
  /** JSON array of the names it covers ("*.example.com" for a wildcard) */
  names: string;
  source: 'acme' | 'operator' | 'self-signed';
  /** PEM chain, leaf first */
  cert_pem: string;
  /** PEM private key, SecretBox-encrypted */
  key_enc: string;
  not_before: number;
  not_after: number;
  /** when renewal starts (jittered); null: not renewed by Slipway */
  renew_at: number | null;
  renew_failures: number;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface AcmeAccountTable {
  directory: string;
  account_url: string | null;
  email: string | null;
  /** PEM account key, SecretBox-encrypted */
  key_enc: string;
  created_at: number;
}

export interface AcmeChallengeTable {
  kind: 'http-01' | 'tls-alpn-01';
  /** http-01: the token; tls-alpn-01: the host name */
  key: string;
  /** http-01: the key authorization; tls-alpn-01: SecretBox-encrypted JSON { certPem, keyPem } */
  value: string;
  expires_at: number;
}

/** The certificate manager's retry schedule for a domain (no row: try as soon as it is pending-certificate). */
export interface CertificateAttemptTable {
  domain: string;
  next_at: number | null;
  failures: number;
}

export interface AcmeEventTable {
  id: Generated<number>;
  kind: 'order' | 'failed-validation';
  name: string;
  at: number;
}
