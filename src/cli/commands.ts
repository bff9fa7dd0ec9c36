import { parseArgs } from 'node:util';
import { AppError } from '../errors/index.js';
import { accountCommands } from './accounts.js';
import { Client } from './client.js';
import { domainsCommand } from './domains.js';
import { envCommand } from './env.js';
import { Spinner } from './progress.js';

interface Deployment {
  id: string;
  status: string;
  project: string;
  branch: string | null;
  isProduction: boolean;
  url: string;
  commit: { sha: string; message: string | null };
  stats: { filesTotal: number; filesUploaded: number; bytesUploaded: number } | null;
  error: { code: string; phase: string | null; message: string | null } | null;
  createdAt: string;
}
interface Project {
  name: string;
  repoUrl: string;
  productionBranch: string;
  productionUrl: string;
  productionDeploymentId: string | null;
  webhookUrl: string;
}
interface LogPage {
  lines: { n: number; text: string }[];
  next: number;
  finished: boolean;
  status: string;
}

const CLIENT_OPTIONS = { url: { type: 'string' }, token: { type: 'string' }, 'data-dir': { type: 'string' } } as const;

function client(values: { url?: string | undefined; token?: string | undefined; 'data-dir'?: string | undefined }): Client {
  return new Client({ url: values.url, token: values.token, dataDir: values['data-dir'] });
}

/** --project, SLIPWAY_PROJECT, or the only project there is. */
async function pickProject(api: Client, given: string | undefined): Promise<string> {
  const name = given ?? process.env.SLIPWAY_PROJECT;
  if (name !== undefined) return name;
  const { projects } = await api.request<{ projects: Project[] }>('GET', '/api/v1/projects');
  if (projects.length === 1) return projects[0]!.name;
  throw new AppError('VALIDATION', projects.length === 0 ? 'There are no projects yet.' : 'Which project? There is more than one.', {
    hint: projects.length === 0 ? 'Create one: slipway create <name> --repo <git url>' : `Pass --project, one of: ${projects.map((p) => p.name).join(', ')}`,
  });
}

/** Print log lines as they arrive until the build finishes; returns the final deployment. */
async function follow(api: Client, id: string, spinner: Spinner): Promise<Deployment> {
  let after = 0;
  for (;;) {
    const page = await api.request<LogPage>('GET', `/api/v1/deployments/${id}/logs?after=${after}`);
    for (const line of page.lines) spinner.log(line.text);
    after = page.next;
    spinner.update(`${page.status}…`);
    if (page.finished) return api.request<Deployment>('GET', `/api/v1/deployments/${id}`);
    if (page.lines.length === 0) await new Promise((r) => setTimeout(r, 400));
  }
}

export const commands: Record<string, (argv: string[]) => Promise<void>> = {
  // people: users, login, logout, whoami, teams, members, tokens, audit (src/cli/accounts.ts)
  ...accountCommands,
  async projects(argv) {
    const { values } = parseArgs({ args: argv, options: CLIENT_OPTIONS });
    const { projects } = await client(values).request<{ projects: Project[] }>('GET', '/api/v1/projects');
    if (projects.length === 0) console.log('No projects yet. Create one: slipway create <name> --repo <git url>');
    for (const p of projects) console.log(`${p.name}\t${p.productionUrl}\t${p.productionDeploymentId ?? '(not deployed)'}\t${p.repoUrl}`);
  },

  async create(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { ...CLIENT_OPTIONS, repo: { type: 'string' }, branch: { type: 'string' }, 'root-directory': { type: 'string' }, 'install-command': { type: 'string' }, 'build-command': { type: 'string' }, 'output-directory': { type: 'string' }, 'server-memory-mb': { type: 'string' }, 'server-request-timeout': { type: 'string' }, 'build-memory-mb': { type: 'string' }, 'build-disk-mb': { type: 'string' }, 'build-pids': { type: 'string' }, 'server-pids': { type: 'string' }, 'node-version': { type: 'string' } },
    });
    // a number when it looks like one; anything else goes as is, for the API to explain
    const int = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : v);
    const p = await client(values).request<Project & { webhookSecret: string }>('POST', '/api/v1/projects', {
      name: positionals[0],
      repoUrl: values.repo,
      productionBranch: values.branch,
      rootDirectory: values['root-directory'],
      installCommand: values['install-command'],
      buildCommand: values['build-command'],
      outputDirectory: values['output-directory'],
      serverMemoryMb: int(values['server-memory-mb']),
      serverRequestTimeoutSeconds: int(values['server-request-timeout']),
      buildMemoryMb: int(values['build-memory-mb']),
      buildDiskMb: int(values['build-disk-mb']),
      buildPids: int(values['build-pids']),
      serverPids: int(values['server-pids']),
      nodeVersion: values['node-version'],
    });
    console.log(`Created ${p.name}. Production will be served at ${p.productionUrl}`);
    console.log(`\nAdd a webhook in your git host (GitHub: Settings → Webhooks → Add webhook):`);
    console.log(`  Payload URL:   ${p.webhookUrl}\n  Content type:  application/json\n  Secret:        ${p.webhookSecret}   (shown only now)`);
    console.log(`\nOr deploy by hand: slipway deploy --project ${p.name}`);
  },

  async deploy(argv) {
    const { values } = parseArgs({ args: argv, options: { ...CLIENT_OPTIONS, project: { type: 'string' }, ref: { type: 'string' }, prod: { type: 'boolean' }, 'no-follow': { type: 'boolean' } } });
    const api = client(values);
    const project = await pickProject(api, values.project);
    const spinner = new Spinner();
    spinner.start(`Resolving ${values.ref ?? 'the production branch'} of ${project}…`);
    const created = await api.request<Deployment>('POST', `/api/v1/projects/${encodeURIComponent(project)}/deployments`, {
      ...(values.ref === undefined ? {} : { ref: values.ref }),
      ...(values.prod === true ? { target: 'production' } : {}),
    });
    spinner.update(`Deployment ${created.id} queued (${created.commit.sha.slice(0, 12)})`);
    if (values['no-follow'] === true) {
      spinner.stop();
      console.log(created.id);
      return;
    }
    const d = await follow(api, created.id, spinner);
    if (d.status === 'ready') {
      spinner.stop(`✓ Ready: ${d.url}${d.isProduction ? ' (production)' : ''}`);
      return;
    }
    spinner.stop(`✗ ${d.status}: ${d.error?.message ?? ''}`);
    process.exitCode = 1;
  },

  async deployments(argv) {
    const { values } = parseArgs({ args: argv, options: { ...CLIENT_OPTIONS, project: { type: 'string' } } });
    const api = client(values);
    const project = await pickProject(api, values.project);
    const { deployments } = await api.request<{ deployments: Deployment[] }>('GET', `/api/v1/projects/${encodeURIComponent(project)}/deployments`);
    for (const d of deployments) {
      const msg = (d.commit.message ?? '').split('\n')[0]!.slice(0, 50);
      console.log(`${d.id}\t${d.status}${d.isProduction ? ' (production)' : ''}\t${d.commit.sha.slice(0, 7)}\t${d.createdAt}\t${msg}`);
    }
  },

  async logs(argv) {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...CLIENT_OPTIONS, follow: { type: 'boolean', short: 'f' } } });
    const id = positionals[0];
    if (id === undefined) throw new AppError('VALIDATION', 'Which deployment?', { hint: 'slipway logs <deployment-id> (see slipway deployments)' });
    const api = client(values);
    if (values.follow === true) {
      const spinner = new Spinner();
      spinner.start('Following…');
      const d = await follow(api, id, spinner);
      spinner.stop(`${d.status}`);
      return;
    }
    let after = 0;
    for (;;) {
      const page = await api.request<LogPage>('GET', `/api/v1/deployments/${id}/logs?after=${after}&limit=5000`);
      for (const line of page.lines) console.log(line.text);
      if (page.lines.length === 0) return;
      after = page.next;
    }
  },

  async promote(argv) {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: CLIENT_OPTIONS });
    const id = positionals[0];
    if (id === undefined) throw new AppError('VALIDATION', 'Which deployment?', { hint: 'slipway promote <deployment-id>' });
    const d = await client(values).request<Deployment>('POST', `/api/v1/deployments/${id}/promote`);
    console.log(`Production of ${d.project} now serves ${d.id}.`);
  },

  domains: (argv) => domainsCommand(argv, CLIENT_OPTIONS, (values) => client(values as Parameters<typeof client>[0])),

  env: (argv) => envCommand(argv, CLIENT_OPTIONS, (values) => client(values as Parameters<typeof client>[0]), pickProject),

  async rollback(argv) {
    const { values } = parseArgs({ args: argv, options: { ...CLIENT_OPTIONS, project: { type: 'string' }, to: { type: 'string' } } });
    const api = client(values);
    const project = await pickProject(api, values.project);
    const d = await api.request<Deployment>('POST', `/api/v1/projects/${encodeURIComponent(project)}/rollback`, values.to === undefined ? {} : { deploymentId: values.to });
    console.log(`Rolled back: production of ${d.project} now serves ${d.id} (${d.commit.sha.slice(0, 7)}).`);
  },
};
