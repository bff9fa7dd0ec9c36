/**
 * Automatic certificates: one ACME account per installation and directory, orders validated
 * over HTTP-01, TLS-ALPN-01 (answered by the edge from the store) or DNS-01 (RFC 2136),
 * renewed before they expire, within the CA's rate limits.
 */
export { startCertificateManager, type CertificateManager, type CertificateManagerOptions } from './manager.js';
export { createRfc2136Provider, findZone, txtValues, type DnsProvider, type Rfc2136Options } from './dns/rfc2136.js';
export { signMessage, verifyResponse, type TsigKey } from './dns/tsig.js';
export { renewAt, backoffMs } from './schedule.js';
export { LIMITS, rateLimitWait } from './rate-limits.js';
export { parseRetryAfter } from './problem.js';
