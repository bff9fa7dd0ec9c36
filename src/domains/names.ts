import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { AppError } from '../errors/index.js';

/** a host-name label after IDNA: letters, digits and inner hyphens, 1-63 characters */
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const MAX_NAME = 253;

export interface DomainName {
  /** lower-case, punycode, no trailing dot: "shop.example.com", "*.example.com" */
  name: string;
  wildcard: boolean;
}

/**
 * Check and normalise a custom domain as a user typed it: lower case, IDN to punycode, a
 * trailing dot dropped, `*.` only as the whole first label. IP addresses and names at or under
 * the base domain (whose names Slipway hands to projects) are refused.
 *
 * `normaliseDomainName('Bücher.Example.', 'localhost')` -> `{ name: 'xn--bcher-kva.example', wildcard: false }`
 */
export function normaliseDomainName(input: unknown, baseDomain: string, field = 'name'): DomainName {
  return parseName(input, field, true, baseDomain.toLowerCase());
}

/**
 * The host a redirect domain sends its visitors to, normalised like a domain name (no
 * wildcard, no port, no scheme). `normaliseRedirectHost('Example.COM')` -> `'example.com'`
 */
export function normaliseRedirectHost(input: unknown, field = 'redirectTo'): string {
  return parseName(input, field, false).name;
}

function parseName(input: unknown, field: string, wildcardAllowed: boolean, base?: string): DomainName {
  const example = wildcardAllowed ? '"shop.example.com" (or "*.example.com" for every name under it)' : '"example.com"';
  const bad = (why: string, hint = `For example: {"${field}": ${example}}`): never => {
    throw new AppError('VALIDATION', `${field} ${why}.`, { hint });
  };
  if (typeof input !== 'string' || input.trim() === '') return bad('must be a host name');
  let raw = input.trim();
  if (raw.length > 1000) return bad('is too long for a host name (at most 253 characters)');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) || raw.includes('/')) return bad(`must be a host name alone, without a scheme or path (got "${raw}")`);
  if (raw.endsWith('.')) raw = raw.slice(0, -1);
  if (isIP(raw) !== 0 || isIP(raw.replace(/^\[|\]$/g, '')) !== 0)
    return bad(`must be a host name, not an IP address (got "${raw}")`, `Point a DNS name at the address and add that name, for example: {"${field}": ${example}}`);
  if (/:\d*$/.test(raw)) return bad(`must be a host name without a port (got "${raw}")`);

  let wildcard = false;
  if (raw.startsWith('*.')) {
    if (!wildcardAllowed) return bad(`cannot be a wildcard (got "${raw}")`);
    wildcard = true;
    raw = raw.slice(2);
  }
  if (raw.includes('*')) return bad(`may have "*" only as its whole first label, as in "*.example.com" (got "${input.trim()}")`);

  const ascii = domainToASCII(raw);
  if (ascii === '') return bad(`"${raw}" is not a valid host name`);
  // the URL standard reads "1.2.3" or "0x7f.1" as IPv4 addresses
  if (isIP(ascii) !== 0) return bad(`must be a host name, not an IP address (got "${raw}")`);
  if (base !== undefined && (ascii === base || ascii.endsWith(`.${base}`))) {
    const name = wildcard ? `*.${ascii}` : ascii;
    throw new AppError('VALIDATION', `${field} "${name}" is under the base domain ${base}, whose names Slipway gives to projects (<project>.${base}, previews and deployments).`, {
      hint: `Use a domain of your own, for example: {"${field}": "www.example.com"}; a project needs no domain for its own host: it is served at <project>.${base} already.`,
    });
  }
  const labels = ascii.split('.');
  if (labels.length < 2) return bad(`must have at least two labels, like "example.com" (got "${ascii}")`);
  for (const label of labels) {
    if (label === '') return bad(`has an empty label (two dots in a row) in "${ascii}"`);
    if (label.length > 63) return bad(`has a label longer than 63 characters ("${label.slice(0, 20)}…")`);
    if (!LABEL.test(label)) return bad(`has the label "${label}", but labels are letters, digits and hyphens, not starting or ending with a hyphen`);
  }
  const name = wildcard ? `*.${ascii}` : ascii;
  if (name.length > MAX_NAME) return bad(`is ${name.length} characters long; a host name has at most ${MAX_NAME}`);
  return { name, wildcard };
}
