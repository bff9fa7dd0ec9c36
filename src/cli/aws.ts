import type { Command } from './command.js';
import { Failed } from './output.js';

interface Access {
  kind: 'keys' | 'role';
  region: string;
  accessKeyId?: string;
  roleArn?: string;
  externalId?: string | null;
  updatedAt: string;
}

interface Check {
  ok: boolean;
  identity: { account: string; arn: string } | null;
  missing: string[];
  problem: { code: string; message: string; hint?: string } | null;
}

/**
 * `slipway aws set|show|rm|check <team>`: a team's AWS access for the AWS target. The secret
 * key is read from AWS_SECRET_ACCESS_KEY when not given, so it need not be on the command line.
 */
export const awsCommand: Command = {
  summary: "Set, show, check and remove a team's AWS access (the AWS target)",
  usage: [
    'slipway aws set <team> --region <region> --access-key-id <id> [--secret-access-key <key>]',
    'slipway aws set <team> --region <region> --role-arn <arn> [--external-id <id>]',
    'slipway aws show <team>',
    'slipway aws check <team>      exit code 1 while actions of docs/aws-iam-policy.json are missing',
    'slipway aws rm <team>',
  ],
  options: {
    region: { type: 'string' },
    'access-key-id': { type: 'string' },
    'secret-access-key': { type: 'string' },
    'role-arn': { type: 'string' },
    'external-id': { type: 'string' },
  },
  flags: [
    '--region REGION            where the functions and the bucket live (e.g. eu-west-1)',
    '--access-key-id ID         an IAM access key; its secret from --secret-access-key or AWS_SECRET_ACCESS_KEY',
    '--role-arn ARN             a role Slipway assumes with STS instead of a key pair',
    "--external-id ID           the external id the role's trust policy demands",
  ],
  examples: [
    'AWS_SECRET_ACCESS_KEY=… slipway aws set acme --region eu-west-1 --access-key-id AKIA…',
    'slipway aws set acme --region eu-west-1 --role-arn arn:aws:iam::123456789012:role/slipway-deployer --external-id acme-7f3a',
    'slipway aws check acme           # prints the actions the access lacks',
  ],
  async run(ctx) {
    const [action, team, ...extra] = ctx.positionals;
    if (extra.length > 0) throw ctx.usage(`Unexpected argument ${JSON.stringify(extra[0])}.`);
    if (action === undefined || !['set', 'show', 'check', 'rm', 'remove'].includes(action))
      throw ctx.usage(action === undefined ? 'Which aws command?' : `Unknown aws command ${JSON.stringify(action)}.`);
    if (team === undefined) throw ctx.usage(`Which team? slipway aws ${action} <team>`);
    const base = `/api/v1/teams/${encodeURIComponent(team)}/aws`;
    const out = ctx.out;
    const v = ctx.values;
    switch (action) {
      case 'set': {
        const body: Record<string, unknown> = { region: v.region };
        if (v['role-arn'] !== undefined) {
          body.roleArn = v['role-arn'];
          if (v['external-id'] !== undefined) body.externalId = v['external-id'];
        } else {
          body.accessKeyId = v['access-key-id'];
          body.secretAccessKey = v['secret-access-key'] ?? process.env.AWS_SECRET_ACCESS_KEY;
        }
        if (v.region === undefined) throw ctx.usage('--region is required.');
        if (body.roleArn === undefined && (body.accessKeyId === undefined || body.secretAccessKey === undefined)) {
          throw ctx.usage('Give --access-key-id (with its secret in --secret-access-key or AWS_SECRET_ACCESS_KEY), or --role-arn.');
        }
        const saved = await ctx.api().request<Access>('PUT', base, body);
        out.result(saved, () => {
          printAccess(out.line.bind(out), team, saved);
          out.line(`Check it: slipway aws check ${team}`);
        });
        return;
      }
      case 'show': {
        const { aws } = await ctx.api().request<{ aws: Access | null }>('GET', base);
        out.result({ aws }, () => (aws === null ? out.line(`${team} has no AWS access. Set it: slipway aws set ${team} --region <region> …`) : printAccess(out.line.bind(out), team, aws)));
        return;
      }
      case 'check': {
        const check = await ctx.api().request<Check>('POST', `${base}/check`);
        out.result(check, () => {
          if (check.identity !== null) out.line(`Signs in as ${check.identity.arn} (account ${check.identity.account}).`);
          if (check.problem !== null) {
            out.line(`${out.red('Problem:')} ${check.problem.code}: ${check.problem.message}`);
            if (check.problem.hint !== undefined) out.line(`  ${check.problem.hint}`);
          }
          if (check.missing.length > 0) {
            out.line(`Missing ${check.missing.length} action(s) of docs/aws-iam-policy.json:`);
            for (const a of check.missing) out.line(`  ${a}`);
          }
          if (check.ok) out.line(out.green('Every action of the documented policy is allowed.'));
        });
        if (!check.ok) throw new Failed();
        return;
      }
      default: {
        await ctx.api().request('DELETE', base);
        out.result({ removed: team }, () => out.line(`Removed ${team}'s AWS access; AWS deployments fail until it is set again.`));
      }
    }
  },
};

function printAccess(line: (text: string) => void, team: string, a: Access): void {
  const who = a.kind === 'keys' ? `access key ${a.accessKeyId}` : `role ${a.roleArn}${a.externalId === 'set' ? ' (with an external id)' : ''}`;
  line(`${team}: ${who} in ${a.region} (set ${a.updatedAt})`);
}

/** `slipway target show|set <project>`: where a project (or one environment) goes live. */
export const targetCommand: Command = {
  summary: 'Show or set where a project goes live: the edge or AWS',
  usage: ['slipway target show <project>', 'slipway target set <project> edge|aws [--environment <name>] [--function-role <arn>] [--bucket <name>] [--function <name>] [--distribution <id>]'],
  options: { environment: { type: 'string' }, 'function-role': { type: 'string' }, bucket: { type: 'string' }, function: { type: 'string' }, distribution: { type: 'string' } },
  flags: [
    '--environment NAME     set one environment only (production, preview, staging …)',
    '--function-role ARN    the execution role Lambda runs the functions as (needed to create them)',
    '--bucket NAME, --function NAME, --distribution ID    use these existing resources instead of making them',
  ],
  examples: ['slipway target set shop aws --function-role arn:aws:iam::123456789012:role/slipway-fn', 'slipway target set shop edge --environment preview', 'slipway target show shop'],
  async run(ctx) {
    const [action, project, target, ...extra] = ctx.positionals;
    if (extra.length > 0) throw ctx.usage(`Unexpected argument ${JSON.stringify(extra[0])}.`);
    if (action !== 'show' && action !== 'set') throw ctx.usage(action === undefined ? 'Which target command?' : `Unknown target command ${JSON.stringify(action)}.`);
    if (project === undefined) throw ctx.usage(`Which project? slipway target ${action} <project>`);
    const path = `/api/v1/projects/${encodeURIComponent(project)}/target`;
    const out = ctx.out;
    if (action === 'show') {
      const shown = await ctx.api().request<{ target: string; targets: { environment: string | null; target: string; resources: Record<string, string> }[] }>('GET', path);
      out.result(shown, () => {
        out.line(`${project} goes live on: ${shown.target}`);
        for (const t of shown.targets) {
          out.line(`  ${t.environment ?? '(project)'}: ${t.target}`);
          for (const [k, val] of Object.entries(t.resources)) out.line(`    ${k}: ${val}`);
        }
      });
      return;
    }
    if (target !== 'edge' && target !== 'aws') throw ctx.usage('The target is "edge" or "aws".');
    const v = ctx.values;
    const named: Record<string, unknown> = { functionRoleArn: v['function-role'], bucket: v.bucket, functionName: v.function, distributionId: v.distribution };
    const resources = Object.fromEntries(Object.entries(named).filter(([, val]) => val !== undefined));
    const saved = await ctx.api().request<{ target: string; environment: string | null }>('PUT', path, { target, ...(v.environment === undefined ? {} : { environment: v.environment }), resources });
    out.result(saved, () => out.line(`${project}${saved.environment === null ? '' : ` (${saved.environment})`} now goes live on ${saved.target}.`));
  },
};
