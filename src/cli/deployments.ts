import { ApiError, type Client } from './client.js';
import type { Command, Context } from './command.js';
import { PROJECT_OPTION } from './command.js';
import { Failed } from './output.js';
import { deployPrebuilt } from './prebuilt.js';
import { waitLive, waitLiveAfterMove } from './live.js';
import { Spinner } from './progress.js';
import { siteLogs } from './site-logs.js';

export interface Deployment {
  id: string;
  status: string;
  project: string;
  target: string;
  environment: string;
  trigger: string;
  branch: string | null;
  isProduction: boolean;
  url: string;
  branchUrl: string | null;
  commit: { sha: string; message: string | null; author: string | null };
  stats: { filesTotal: number; filesUploaded: number; bytesUploaded: number } | null;
  timings: Record<string, number> | null;
  build: Record<string, unknown> | null;
  error: { code: string; phase: string | null; message: string | null } | null;
  createdAt: string;
  finishedAt: string | null;
  /** when every live edge served it (null: not yet) */
  liveAt?: string | null;
}
interface LogPage {
  lines: { n: number; at: number; text: string }[];
  next: number;
  finished: boolean;
  status: string;
}

const enc = encodeURIComponent;

/**
 * Print log lines as they arrive until the build finishes (the log's event stream: no polling),
 * returns the final deployment and every line seen. A dropped connection resumes after the
 * last line printed.
 */
async function follow(api: Client, id: string, spinner: Spinner): Promise<{ deployment: Deployment; lines: LogPage['lines'] }> {
  const seen: LogPage['lines'] = [];
  let last: string | undefined;
  let ended = false;
  for (let drops = 0; !ended; ) {
    try {
      last = await api.events(
        `/api/v1/deployments/${enc(id)}/logs`,
        (type, data) => {
          if (type === 'line') {
            const line = JSON.parse(data) as LogPage['lines'][number];
            spinner.log(line.text);
            seen.push(line);
          } else if (type === 'end') {
            ended = true;
          }
        },
        last,
      );
      if (!ended) spinner.update('building…');
    } catch (err) {
      // the API is restarting or the network dropped: try again a few times, then say so
      if (!(err instanceof ApiError) || err.status !== 0 || ++drops > 5) throw err;
      await new Promise((r) => setTimeout(r, 500 * drops));
    }
  }
  return { deployment: await api.request<Deployment>('GET', `/api/v1/deployments/${enc(id)}`), lines: seen };
}

export function needId(ctx: Context, verb: string): string {
  const id = ctx.positionals[0];
  if (id === undefined) throw ctx.usage(`Which deployment? slipway ${verb} <deployment-id> (slipway ls lists them)`);
  if (ctx.positionals.length > 1) throw ctx.usage(`Unexpected argument ${JSON.stringify(ctx.positionals[1])}.`);
  return id;
}

function finish(ctx: Context, spinner: Spinner, d: Deployment): void {
  ctx.out.result(d, () => undefined);
  if (d.status === 'awaiting-approval') {
    spinner.stop(`${ctx.out.green('✓')} Built; waiting for approval before ${d.environment} serves it: slipway approve ${d.id} (review it at ${d.url})`);
    return;
  }
  if (d.status === 'ready') {
    spinner.stop(`${ctx.out.green('✓')} Ready: ${d.url}${d.isProduction ? ' (production)' : ''}`);
    return;
  }
  spinner.stop(`${ctx.out.red('✗')} ${d.status}: ${d.error?.message ?? ''}`);
  throw new Failed();
}

export const deployCommand: Command = {
  summary: 'Deploy the project (a branch, tag or commit; or a folder built elsewhere)',
  usage: ['slipway deploy [--project P] [--ref main] [--prod | --env NAME] [--no-follow]', 'slipway deploy --prebuilt <dir> [--project P] [--prod] [--branch NAME] [--message TEXT]'],
  options: {
    ...PROJECT_OPTION,
    ref: { type: 'string' },
    prod: { type: 'boolean' },
    env: { type: 'string' },
    'no-follow': { type: 'boolean' },
    prebuilt: { type: 'string' },
    branch: { type: 'string' },
    message: { type: 'string' },
  },
  flags: [
    "-p, --project P     the project (default: SLIPWAY_PROJECT, this folder's link, or the only one)",
    '--ref REF           branch, tag or commit to build (default: the production branch)',
    '--prod              move production to it once ready (default: production for the production branch, prebuilt: preview)',
    '--env NAME          deploy to that environment (production, preview, staging...; default: the one bound to the branch)',
    '--no-follow         print the deployment id and return without waiting',
    '--prebuilt DIR      upload DIR as it is (no build): only files the server lacks are sent, checked by sha256',
    '--branch NAME       prebuilt: also serve it as the branch preview of NAME',
    '--message TEXT      prebuilt: what the deployment list shows for it',
  ],
  examples: [
    "slipway deploy                                   # the linked project's production branch, following the log",
    'slipway deploy --ref feature/login               # a preview of a branch',
    'slipway deploy --ref develop --env staging       # any ref to any environment (approval applies)',
    'npm run build && slipway deploy --prebuilt dist --prod',
    'id=$(slipway deploy --no-follow --json | jq -r .id)',
  ],
  async run(ctx) {
    if (ctx.positionals.length > 0) throw ctx.usage(`Unexpected argument ${JSON.stringify(ctx.positionals[0])}.`);
    const api = ctx.api();
    const project = await ctx.project();
    const v = ctx.values as Record<string, string | boolean | undefined>;
    if (v.prod === true && v.env !== undefined) throw ctx.usage('Pass --prod or --env, not both (--prod is --env production).');
    if (v.prebuilt !== undefined) {
      if (v.ref !== undefined) throw ctx.usage('--ref builds from git; --prebuilt uploads a folder: pass one of them.');
      if (v.env !== undefined) throw ctx.usage('--env goes with a build from git, not --prebuilt.');
      return deployPrebuilt(ctx, api, project, v.prebuilt as string);
    }
    const spinner = new Spinner(ctx.out);
    spinner.start(`Resolving ${(v.ref as string | undefined) ?? 'the production branch'} of ${project}…`);
    const created = await api
      .request<Deployment>('POST', `/api/v1/projects/${enc(project)}/deployments`, {
        ...(v.ref === undefined ? {} : { ref: v.ref }),
        ...(v.prod === true ? { target: 'production' } : {}),
        ...(v.env === undefined ? {} : { environment: v.env }),
      })
      .finally(() => spinner.stop());
    spinner.start(`Deployment ${created.id} queued (${created.commit.sha.slice(0, 12)})`);
    if (v['no-follow'] === true) {
      spinner.stop();
      ctx.out.result(created, () => ctx.out.line(created.id));
      return;
    }
    finish(ctx, spinner, await waitLive(api, (await follow(api, created.id, spinner)).deployment, spinner));
  },
};

export const lsCommand: Command = {
  summary: "List the project's deployments, newest first",
  usage: ['slipway ls [--project P] [--limit 20]'],
  options: { ...PROJECT_OPTION, limit: { type: 'string' } },
  flags: ['-p, --project P     the project', '--limit N           how many (default 20)'],
  examples: ['slipway ls', 'slipway ls --project blog --json | jq -r \'.deployments[] | select(.status=="ready") | .id\''],
  async run(ctx) {
    const project = await ctx.project();
    const limit = (ctx.values.limit as string | undefined) ?? '20';
    if (!/^\d+$/.test(limit)) throw ctx.usage('--limit takes a number.');
    const deployments = await ctx.api().list<Deployment>(`/api/v1/projects/${enc(project)}/deployments`, 'deployments', Number(limit));
    ctx.out.result({ project, deployments }, () => {
      if (deployments.length === 0) ctx.out.note(`${project} has no deployments yet: slipway deploy`);
      const rows = deployments.map((d) => {
        const msg = (d.commit.message ?? '').split('\n')[0]!.slice(0, 50);
        return [d.id, `${ctx.out.status(d.status)}${d.isProduction ? ctx.out.bold(' (production)') : ''}`, d.commit.sha.slice(0, 7) || '-', d.createdAt, msg];
      });
      ctx.out.table(['ID', 'STATUS', 'COMMIT', 'CREATED', 'MESSAGE'], rows);
    });
  },
};

/** `slipway deployments` from before `ls`, kept for scripts. */
export const deploymentsCommand: Command = { ...lsCommand, hidden: true, summary: 'Same as slipway ls' };

export const inspectCommand: Command = {
  summary: 'Show one deployment: status, commit, URLs, build details, error',
  usage: ['slipway inspect <deployment-id>'],
  examples: ['slipway inspect d3k9x0q2m7ab', 'slipway inspect d3k9x0q2m7ab --json | jq .timings'],
  async run(ctx) {
    const d = await ctx.api().request<Deployment>('GET', `/api/v1/deployments/${enc(needId(ctx, 'inspect'))}`);
    ctx.out.result(d, () => {
      const o = ctx.out;
      const row = (k: string, v: string | null | undefined) => v !== null && v !== undefined && v !== '' && o.line(`${o.dim(k.padEnd(10))} ${v}`);
      row('id', o.bold(d.id));
      row('project', d.project);
      row('status', `${o.status(d.status)}${d.isProduction ? ' (production)' : ''}`);
      row('target', d.target);
      row('branch', d.branch);
      row('commit', d.commit.sha === '' ? null : `${d.commit.sha.slice(0, 12)} ${(d.commit.message ?? '').split('\n')[0]}`);
      if (d.commit.sha === '') row('message', d.commit.message);
      row('author', d.commit.author);
      row('url', d.url);
      row('branch url', d.branchUrl);
      row('framework', (d.build?.framework as { name?: string } | undefined)?.name);
      row('files', d.stats === null ? null : `${d.stats.filesTotal} (${d.stats.filesUploaded} new)`);
      row('took', d.timings?.totalMs === undefined ? null : `${(d.timings.totalMs / 1000).toFixed(1)}s`);
      row('created', d.createdAt);
      if (d.error !== null) row('error', o.red(`${d.error.code}${d.error.phase === null ? '' : ` (${d.error.phase})`}: ${d.error.message ?? ''}`));
    });
  },
};

export const logsCommand: Command = {
  summary: "Print a deployment's build log, or a project's access log (--access) or server output (--server)",
  usage: ['slipway logs <deployment-id> [--follow]', 'slipway logs --access|--server [--project P] [<deployment-id>] [--tail N] [--follow]'],
  options: { ...PROJECT_OPTION, follow: { type: 'boolean', short: 'f' }, access: { type: 'boolean' }, server: { type: 'boolean' }, tail: { type: 'string' }, deployment: { type: 'string' } },
  flags: [
    '-f, --follow        keep printing: until the build ends (exit code 1 if it did not become ready); with --access/--server until Ctrl-C',
    "--access            the project's access log: requests the edge answered",
    "--server            what the project's SSR servers printed (stdout and stderr)",
    '-p, --project P     the project (with --access/--server)',
    '--tail N            with --access/--server: start with the last N entries (default 100)',
  ],
  examples: [
    'slipway logs d3k9x0q2m7ab',
    'slipway logs d3k9x0q2m7ab --follow',
    'slipway logs d3k9x0q2m7ab --json | jq -r ".lines[].text"',
    'slipway logs --access --project blog --follow      # requests as they come',
    "slipway logs --server --project blog d3k9x0q2m7ab  # one deployment's server output",
  ],
  async run(ctx) {
    if (ctx.values.access === true || ctx.values.server === true) return siteLogs(ctx);
    const id = needId(ctx, 'logs');
    const api = ctx.api();
    if (ctx.values.follow === true) {
      const spinner = new Spinner(ctx.out);
      spinner.start('Following…');
      const { deployment, lines } = await follow(api, id, spinner);
      ctx.out.result({ deploymentId: id, status: deployment.status, lines }, () => undefined);
      spinner.stop(ctx.out.status(deployment.status));
      if (deployment.status !== 'ready') throw new Failed();
      return;
    }
    let after = 0;
    const all: LogPage['lines'] = [];
    let status = '';
    for (;;) {
      const page = await api.request<LogPage>('GET', `/api/v1/deployments/${enc(id)}/logs?after=${after}&limit=5000`);
      status = page.status;
      if (ctx.out.json) all.push(...page.lines);
      else for (const line of page.lines) ctx.out.line(line.text);
      if (page.lines.length === 0) break;
      after = page.next;
    }
    if (ctx.out.json) ctx.out.result({ deploymentId: id, status, lines: all }, () => undefined);
  },
};

export const promoteCommand: Command = {
  summary: 'Make a ready deployment production, or --env another environment (nothing is rebuilt)',
  usage: ['slipway promote <deployment-id> [--env NAME]'],
  options: { env: { type: 'string' } },
  flags: ['--env NAME          the environment to serve it (default: production)'],
  examples: ['slipway promote d3k9x0q2m7ab', 'slipway promote d3k9x0q2m7ab --env staging'],
  async run(ctx) {
    const env = ctx.values.env as string | undefined;
    const api = ctx.api();
    const d = await waitLiveAfterMove(
      api,
      await api.request<Deployment>('POST', `/api/v1/deployments/${enc(needId(ctx, 'promote'))}/promote`, env === undefined ? undefined : { environment: env }),
      ctx,
    );
    ctx.out.result(d, () => ctx.out.line(`${env === undefined || env === 'production' ? 'Production' : `Environment ${env}`} of ${d.project} now serves ${ctx.out.bold(d.id)}.`));
  },
};

export const rollbackCommand: Command = {
  summary: 'Move production back to the previous ready deployment (or --to one)',
  usage: ['slipway rollback [--project P] [--to <deployment-id>]'],
  options: { ...PROJECT_OPTION, to: { type: 'string' } },
  flags: ['-p, --project P     the project', "--to ID             the deployment to serve (default: the one before production's)"],
  examples: ['slipway rollback', 'slipway rollback --to d3k9x0q2m7ab'],
  async run(ctx) {
    const project = await ctx.project();
    const to = ctx.values.to as string | undefined;
    const api = ctx.api();
    const d = await waitLiveAfterMove(api, await api.request<Deployment>('POST', `/api/v1/projects/${enc(project)}/rollback`, to === undefined ? {} : { deploymentId: to }), ctx);
    ctx.out.result(d, () => ctx.out.line(`Rolled back: production of ${d.project} now serves ${ctx.out.bold(d.id)} (${d.commit.sha.slice(0, 7) || 'prebuilt'}).`));
  },
};

export const cancelCommand: Command = {
  summary: 'Cancel a queued or running build',
  usage: ['slipway cancel <deployment-id>'],
  examples: ['slipway cancel d3k9x0q2m7ab'],
  async run(ctx) {
    const d = await ctx.api().request<Deployment>('POST', `/api/v1/deployments/${enc(needId(ctx, 'cancel'))}/cancel`);
    ctx.out.result(d, () => ctx.out.line(`Canceled ${d.id}.`));
  },
};
