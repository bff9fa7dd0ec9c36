import { createInterface } from 'node:readline/promises';
import type { Command, Context } from './command.js';
import { PROJECT_OPTION } from './command.js';
import { LINK_FILE, writeLink } from './link.js';
import { UsageError } from './output.js';

export interface Project {
  name: string;
  /** the owning team's slug, once accounts exist */
  team?: string;
  repoUrl: string;
  productionBranch: string;
  productionUrl: string;
  productionDeploymentId: string | null;
  webhookUrl: string;
}

const CREATE_OPTIONS = {
  repo: { type: 'string' },
  team: { type: 'string' },
  branch: { type: 'string' },
  'root-directory': { type: 'string' },
  'install-command': { type: 'string' },
  'build-command': { type: 'string' },
  'output-directory': { type: 'string' },
  'server-memory-mb': { type: 'string' },
  'server-request-timeout': { type: 'string' },
  'build-memory-mb': { type: 'string' },
  'build-disk-mb': { type: 'string' },
  'build-pids': { type: 'string' },
  'server-pids': { type: 'string' },
  'node-version': { type: 'string' },
} as const;

const enc = encodeURIComponent;

async function list(ctx: Context): Promise<void> {
  const projects = await ctx.api().list<Project>('/api/v1/projects', 'projects');
  ctx.out.result({ projects }, () => {
    if (projects.length === 0) ctx.out.note('No projects yet. Create one: slipway projects create <name> --repo <git url>');
    else {
      const rows = projects.map((p) => [ctx.out.bold(p.name), p.productionUrl, p.productionDeploymentId ?? '(not deployed)', p.repoUrl]);
      // with accounts every project has a team: show it last, so the columns before stay where scripts expect them
      if (projects.some((p) => p.team !== undefined))
        ctx.out.table(
          ['NAME', 'PRODUCTION URL', 'SERVES', 'REPOSITORY', 'TEAM'],
          rows.map((r, i) => [...r, projects[i]!.team ?? '']),
        );
      else ctx.out.table(['NAME', 'PRODUCTION URL', 'SERVES', 'REPOSITORY'], rows);
    }
  });
}

async function create(ctx: Context, name: string | undefined): Promise<void> {
  if (name === undefined) throw ctx.usage('Which name? slipway projects create <name> --repo <git url>');
  const v = ctx.values as Record<string, string | undefined>;
  // a number when it looks like one; anything else goes as is, for the API to explain
  const int = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : s);
  const p = await ctx.api().request<Project & { webhookSecret: string }>('POST', '/api/v1/projects', {
    name,
    repoUrl: v.repo,
    // undefined is left out of the JSON: the server picks the caller's only team
    team: v.team,
    productionBranch: v.branch,
    rootDirectory: v['root-directory'],
    installCommand: v['install-command'],
    buildCommand: v['build-command'],
    outputDirectory: v['output-directory'],
    serverMemoryMb: int(v['server-memory-mb']),
    serverRequestTimeoutSeconds: int(v['server-request-timeout']),
    buildMemoryMb: int(v['build-memory-mb']),
    buildDiskMb: int(v['build-disk-mb']),
    buildPids: int(v['build-pids']),
    serverPids: int(v['server-pids']),
    nodeVersion: v['node-version'],
  });
  ctx.out.result(p, () => {
    ctx.out.line(`${ctx.out.green('Created')} ${ctx.out.bold(p.name)}. Production will be served at ${p.productionUrl}`);
    ctx.out.line(`\nAdd a webhook in your git host (GitHub: Settings → Webhooks → Add webhook):`);
    ctx.out.line(`  Payload URL:   ${p.webhookUrl}\n  Content type:  application/json\n  Secret:        ${p.webhookSecret}   (shown only now)`);
    // the same secret signs (Gitea) or is the token (GitLab) of the other hosts' webhooks
    const other = (host: string) => p.webhookUrl.replace('/hooks/github/', `/hooks/${host}/`);
    ctx.out.line(`  GitLab:        ${other('gitlab')} (Secret token: the same secret)\n  Gitea/Forgejo: ${other('gitea')} (Secret: the same secret)`);
    ctx.out.line(`\nOr deploy by hand: slipway deploy --project ${p.name}`);
  });
}

async function remove(ctx: Context, name: string | undefined): Promise<void> {
  if (name === undefined) throw ctx.usage('Which project? slipway projects rm <name>');
  const api = ctx.api();
  // fail on a wrong name before asking anything
  await api.request('GET', `/api/v1/projects/${enc(name)}`);
  if (ctx.values.yes !== true) {
    if (process.stdin.isTTY !== true || process.stdout.isTTY !== true) {
      throw new UsageError(`Deleting ${name} removes its deployments, domains and variables for good; nothing was deleted.`, `Confirm with --yes: slipway projects rm ${name} --yes`);
    }
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const answer = await rl.question(`Delete project ${ctx.out.bold(name)} with all its deployments, domains and variables? Type its name to confirm: `);
    rl.close();
    if (answer.trim() !== name) throw new UsageError('Not confirmed; nothing was deleted.');
  }
  await api.request('DELETE', `/api/v1/projects/${enc(name)}`);
  ctx.out.result({ deleted: name }, () => ctx.out.line(`Deleted ${name}: its sites are no longer served.`));
}

export const projectsCommand: Command = {
  summary: 'List, create and delete projects',
  usage: ['slipway projects [ls]', 'slipway projects create <name> --repo <git url> [--branch main] [--build-command ..] [--output-directory ..] [...]', 'slipway projects rm <name> [--yes]'],
  options: { ...CREATE_OPTIONS, yes: { type: 'boolean', short: 'y' } },
  flags: [
    '--repo URL                  the git repository to build (create)',
    '--branch NAME               the production branch (create; default main)',
    '--team SLUG                 the team that owns it (create; default: your only team)',
    '--root-directory DIR        the app inside the repository (create)',
    '--install-command, --build-command, --output-directory   override detection (create)',
    '--server-memory-mb, --server-request-timeout, --build-memory-mb, --build-disk-mb, --build-pids, --server-pids, --node-version',
    '-y, --yes                   rm: delete without asking (needed when not on a terminal)',
  ],
  examples: [
    'slipway projects                                    # list them',
    'slipway projects create blog --repo https://github.com/acme/blog.git',
    'slipway projects rm blog --yes                      # delete it with its deployments, domains and variables',
    'slipway projects --json | jq -r ".projects[].name"',
  ],
  async run(ctx) {
    const [action, name, extra] = ctx.positionals;
    if (extra !== undefined) throw ctx.usage(`Unexpected argument ${JSON.stringify(extra)}.`);
    if (action === undefined || action === 'ls' || action === 'list') return list(ctx);
    if (action === 'create') return create(ctx, name);
    if (action === 'rm' || action === 'remove' || action === 'delete') return remove(ctx, name);
    throw ctx.usage(`Unknown projects command ${JSON.stringify(action)}.`);
  },
};

/** `slipway create` from before `projects create`, kept for scripts. */
export const createCommand: Command = {
  ...projectsCommand,
  hidden: true,
  summary: 'Same as slipway projects create',
  run: (ctx) => create(ctx, ctx.positionals[0]),
};

export const linkCommand: Command = {
  summary: `Remember the project for this folder (in ${LINK_FILE})`,
  usage: ['slipway link [<project>]'],
  options: PROJECT_OPTION,
  flags: [`Commands run in this folder or below then use it without --project (the link is kept with the API URL it was made for).`],
  examples: ['cd ~/sites/blog && slipway link blog    # then: slipway deploy, slipway ls, slipway env ls', 'slipway link                            # the only project there is'],
  async run(ctx) {
    const given = ctx.positionals[0] ?? (ctx.values.project as string | undefined);
    const api = ctx.api();
    const name = given ?? (await ctx.project());
    const p = await api.request<Project>('GET', `/api/v1/projects/${enc(name)}`);
    const file = await writeLink(process.cwd(), p.name, api.url);
    ctx.out.result({ project: p.name, url: api.url, file }, () => ctx.out.line(`Linked ${process.cwd()} to ${ctx.out.bold(p.name)} (${file}).`));
  },
};
