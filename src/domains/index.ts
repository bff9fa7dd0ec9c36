export { startDomainChecks, type DomainChecks } from './checker.js';
export { checkDomainDns, dnsResolver, localAddresses, type DnsCheck, type DnsSeen } from './dns.js';
export { normaliseDomainName, normaliseRedirectHost, type DomainName } from './names.js';
export { acmeOn, expectedRecords, nextCheckDelay, recordText, statusAfterCheck, whatToDo, type DnsRecord, type ExpectedRecords } from './status.js';
export {
  deleteDomain,
  domainKey,
  dueDomains,
  findDomain,
  getProjectDomain,
  insertDomain,
  listProjectDomains,
  recordDnsCheck,
  REDIRECT_STATUSES,
  serializeDomain,
  validateDomainRequest,
  type DomainRequest,
  type RedirectStatus,
} from './store.js';
