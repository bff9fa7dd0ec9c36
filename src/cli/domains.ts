import type { Command } from './command.js';
import { Failed, type Output } from './output.js';

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
  dns: {
    addresses: DnsRecord[];
    anyOne: boolean;
    cname: DnsRecord | null;
    notes: string[];
    checkedAt: string | null;
    nextCheckAt: string | null;
    /** 'aws': CloudFront serves it; `records` are the ACM validation CNAME(s) and the domain's own CNAME */
    target?: 'aws';
    records?: (DnsRecord & { purpose: 'certificate' | 'traffic' })[];
  };
}

/**
 * `slipway domains add|ls|rm|verify`: a project's custom domains, each printed with its status
 * and, while DNS is not right yet, the exact records to create.
 */
export const domainsCommand: Command = {
  summary: 'Add, list, verify and remove custom domains',
  usage: [
    'slipway domains add <project> <name> [--redirect-to <host>] [--redirect-status 308]',
    'slipway domains ls <project>',
    'slipway domains verify <project> <name>      exit code 1 while DNS is not right (on AWS: until it is served)',
    'slipway domains rm <project> <name>',
  ],
  options: { 'redirect-to': { type: 'string' }, 'redirect-status': { type: 'string' } },
  flags: ['--redirect-to HOST      answer every request with a redirect to HOST', '--redirect-status N     301, 302, 307 or 308 (default 308)'],
  examples: [
    'slipway domains add shop shop.example.com              # prints the DNS record to create',
    'slipway domains add shop www.example.com --redirect-to shop.example.com',
    'until slipway domains verify shop shop.example.com; do sleep 30; done',
    'slipway domains ls shop --json | jq -r ".domains[] | [.name, .status] | @tsv"',
  ],
  async run(ctx) {
    const [action, project, name, ...extra] = ctx.positionals;
    if (extra.length > 0) throw ctx.usage(`Unexpected argument ${JSON.stringify(extra[0])}.`);
    if (action === undefined) throw ctx.usage('Which domains command?');
    if (!['add', 'ls', 'list', 'rm', 'remove', 'verify'].includes(action)) throw ctx.usage(`Unknown domains command ${JSON.stringify(action)}.`);
    if (project === undefined) throw ctx.usage(`Which project? slipway domains ${action} <project>${action === 'ls' ? '' : ' <name>'}`);
    const base = `/api/v1/projects/${encodeURIComponent(project)}/domains`;
    const needName = () => {
      if (name === undefined) throw ctx.usage(`Which domain? slipway domains ${action} ${project} <name>`);
      return encodeURIComponent(name);
    };
    const out = ctx.out;
    switch (action) {
      case 'add': {
        needName();
        const status = ctx.values['redirect-status'] as string | undefined;
        const domain = await ctx.api().request<Domain>('POST', base, {
          name,
          ...(ctx.values['redirect-to'] === undefined ? {} : { redirectTo: ctx.values['redirect-to'] }),
          // a number when it looks like one; anything else goes as is, for the API to explain
          ...(status === undefined ? {} : { redirectStatus: /^\d+$/.test(status) ? Number(status) : status }),
        });
        out.result(domain, () => {
          out.line(`Added ${domain.name} to ${domain.project}.`);
          printDomain(out, domain);
        });
        return;
      }
      case 'ls':
      case 'list': {
        const answer = { domains: await ctx.api().list<Domain>(base, 'domains') };
        out.result(answer, () => {
          if (answer.domains.length === 0) out.line(`${project} has no domains yet. Add one: slipway domains add ${project} <name>`);
          for (const domain of answer.domains) printDomain(out, domain);
        });
        return;
      }
      case 'rm':
      case 'remove': {
        await ctx.api().request('DELETE', `${base}/${needName()}`);
        out.result({ removed: name, project }, () => out.line(`Removed ${name} from ${project}: it is no longer served.`));
        return;
      }
      default: {
        const domain = await ctx.api().request<Domain>('POST', `${base}/${needName()}/verify`);
        out.result(domain, () => printDomain(out, domain));
        if (domain.status === 'pending-dns' || (domain.dns.target === 'aws' && domain.status !== 'active')) throw new Failed();
      }
    }
  },
};

/** The domain's status, what was found, and (pending-dns) the records to create, one per line. */
function printDomain(out: Output, domain: Domain): void {
  const redirect = domain.redirect === null ? '' : `  (redirects to ${domain.redirect.to}, ${domain.redirect.status})`;
  out.line(`${domain.name}  ${domain.status}${redirect}`);
  if (domain.statusDetail !== null) out.line(`  ${domain.statusDetail}`);
  if (domain.dns.target === 'aws' && domain.status !== 'active') printAwsRecords(out, domain);
  else if (domain.status === 'pending-dns') {
    const { addresses, anyOne, cname, notes } = domain.dns;
    const width = Math.max(...[...addresses, ...(cname === null ? [] : [cname])].map((r) => r.name.length), 0);
    const line = (r: DnsRecord) => `      ${r.name.padEnd(width)}  ${r.type.padEnd(5)}  ${r.value}`;
    if (addresses.length > 0 || cname !== null) out.line('  Create at your DNS provider:');
    if (addresses.length > 0) {
      out.line(anyOne && addresses.length > 1 ? '    one of these records:' : addresses.length > 1 ? '    these records:' : '    this record:');
      for (const r of addresses) out.line(line(r));
    }
    if (cname !== null) {
      out.line(addresses.length > 0 ? '    or this record instead:' : '    this record:');
      out.line(line(cname));
    }
    for (const note of notes) out.line(`  Note: ${note}`);
    out.line(`  Then: slipway domains verify ${domain.project} ${domain.name}`);
  } else out.line(`  ${domain.todo}`);
}

/** On AWS: the certificate's validation CNAME(s) and the domain's own CNAME to the distribution. */
function printAwsRecords(out: Output, domain: Domain): void {
  const records = domain.dns.records ?? [];
  const width = Math.max(...records.map((r) => r.name.length), 0);
  const valueWidth = Math.max(...records.map((r) => r.value.length), 0);
  const why = { certificate: 'proves the name to ACM', traffic: 'sends visitors to CloudFront' };
  out.line('  Create at your DNS provider:');
  for (const r of records) out.line(`      ${r.name.padEnd(width)}  ${r.type.padEnd(5)}  ${r.value.padEnd(valueWidth)}  (${why[r.purpose]})`);
  for (const note of domain.dns.notes) out.line(`  Note: ${note}`);
  out.line(`  Then: slipway domains verify ${domain.project} ${domain.name}`);
}
