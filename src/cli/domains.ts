import { parseArgs } from 'node:util';
import { AppError } from '../errors/index.js';
import type { Client } from './client.js';

interface DnsRecord {
  type: string;
  name: string;
  value: string;
}

interface Domain {
  name: string;
  project: string;
  redirect: { to: string; status: number } | null;
  status: string;
  statusDetail: string | null;
  todo: string;
  dns: { addresses: DnsRecord[]; anyOne: boolean; cname: DnsRecord | null; notes: string[]; checkedAt: string | null; nextCheckAt: string | null };
}

const USAGE = 'slipway domains add <project> <name> [--redirect-to <host>] [--redirect-status 308] | ls <project> | rm <project> <name> | verify <project> <name>';

/**
 * `slipway domains add|ls|rm|verify`: a project's custom domains, each printed with its status
 * and, while DNS is not right yet, the exact records to create.
 */
export async function domainsCommand(argv: string[], options: Record<string, { type: 'string' | 'boolean' }>, connect: (values: Record<string, unknown>) => Client): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...options, 'redirect-to': { type: 'string' }, 'redirect-status': { type: 'string' } },
  });
  const [action, project, name, ...extra] = positionals;
  if (extra.length > 0) throw new AppError('VALIDATION', `Unexpected argument ${JSON.stringify(extra[0])}.`, { hint: USAGE });
  if (action === undefined) throw new AppError('VALIDATION', 'Which domains command?', { hint: USAGE });
  if (project === undefined) throw new AppError('VALIDATION', `Which project? slipway domains ${action} <project>${action === 'ls' ? '' : ' <name>'}`, { hint: USAGE });
  const api = connect(values);
  const base = `/api/v1/projects/${encodeURIComponent(project)}/domains`;
  const needName = () => {
    if (name === undefined) throw new AppError('VALIDATION', `Which domain? slipway domains ${action} ${project} <name>`, { hint: USAGE });
    return encodeURIComponent(name);
  };

  switch (action) {
    case 'add': {
      needName();
      const status = values['redirect-status'] as string | undefined;
      const domain = await api.request<Domain>('POST', base, {
        name,
        ...(values['redirect-to'] === undefined ? {} : { redirectTo: values['redirect-to'] }),
        // a number when it looks like one; anything else goes as is, for the API to explain
        ...(status === undefined ? {} : { redirectStatus: /^\d+$/.test(status) ? Number(status) : status }),
      });
      console.log(`Added ${domain.name} to ${domain.project}.`);
      printDomain(domain);
      return;
    }
    case 'ls':
    case 'list': {
      const { domains } = await api.request<{ domains: Domain[] }>('GET', base);
      if (domains.length === 0) console.log(`${project} has no domains yet. Add one: slipway domains add ${project} <name>`);
      for (const domain of domains) printDomain(domain);
      return;
    }
    case 'rm':
    case 'remove': {
      await api.request('DELETE', `${base}/${needName()}`);
      console.log(`Removed ${name} from ${project}: it is no longer served.`);
      return;
    }
    case 'verify': {
      const domain = await api.request<Domain>('POST', `${base}/${needName()}/verify`);
      printDomain(domain);
      if (domain.status === 'pending-dns') process.exitCode = 1;
      return;
    }
    default:
      throw new AppError('VALIDATION', `Unknown domains command ${JSON.stringify(action)}.`, { hint: USAGE });
  }
}

/** The domain's status, what was found, and (pending-dns) the records to create, one per line. */
function printDomain(domain: Domain): void {
  const redirect = domain.redirect === null ? '' : `  (redirects to ${domain.redirect.to}, ${domain.redirect.status})`;
  console.log(`${domain.name}  ${domain.status}${redirect}`);
  if (domain.statusDetail !== null) console.log(`  ${domain.statusDetail}`);
  if (domain.status === 'pending-dns') {
    const { addresses, anyOne, cname, notes } = domain.dns;
    const width = Math.max(...[...addresses, ...(cname === null ? [] : [cname])].map((r) => r.name.length), 0);
    const line = (r: DnsRecord) => `      ${r.name.padEnd(width)}  ${r.type.padEnd(5)}  ${r.value}`;
    if (addresses.length > 0 || cname !== null) console.log('  Create at your DNS provider:');
    if (addresses.length > 0) {
      console.log(anyOne && addresses.length > 1 ? '    one of these records:' : addresses.length > 1 ? '    these records:' : '    this record:');
      for (const r of addresses) console.log(line(r));
    }
    if (cname !== null) {
      console.log(addresses.length > 0 ? '    or this record instead:' : '    this record:');
      console.log(line(cname));
    }
    for (const note of notes) console.log(`  Note: ${note}`);
    console.log(`  Then: slipway domains verify ${domain.project} ${domain.name}`);
  } else console.log(`  ${domain.todo}`);
}
