import { PROJECT_OPTION, type Command } from './command.js';
import { formatBytes } from './output.js';

const enc = encodeURIComponent;

interface Retention {
  project: string;
  keepProduction: number;
  keepDays: number;
  defaults: { keepProduction: number; keepDays: number };
}

interface Report {
  dryRun: boolean;
  deployments: { id: string; project: string; environment: string; status: string; createdAt: number }[];
  blobs: { count: number; bytes: number };
  kept: { deployments: number; blobs: number; bytes: number };
  serverBundles?: string[];
  buildCacheEntries?: number;
  aws?: { versions: { count: number; sample: string[] }; objects: { count: number; bytes: number }; aliases: string[]; waiting: { id: string; reason: string }[] };
  warnings?: string[];
}

/** A number flag: a whole number, or "default" (null: back to the platform's default). */
function setting(ctx: Parameters<Command['run']>[0], flag: string): number | null | undefined {
  const raw = ctx.values[flag] as string | undefined;
  if (raw === undefined) return undefined;
  if (raw === 'default') return null;
  if (!/^\d{1,6}$/.test(raw)) throw ctx.usage(`--${flag} must be a whole number (or "default"), not "${raw}".`);
  return Number(raw);
}

/** `slipway retention [--keep-production N] [--keep-days D]`: show or change a project's retention. */
export const retentionCommand: Command = {
  summary: "Show or change how long a project's deployments are kept",
  usage: ['slipway retention [--project P]', 'slipway retention [--project P] [--keep-production N] [--keep-days D]'],
  options: { ...PROJECT_OPTION, 'keep-production': { type: 'string' }, 'keep-days': { type: 'string' } },
  flags: [
    '-p, --project P          the project (default: the linked one)',
    '--keep-production N      the newest N ready production deployments stay, whatever their age ("default": 10)',
    '--keep-days D            anything newer than D days stays; other deployments older than that are removed ("default": 90)',
  ],
  examples: ['slipway retention -p blog                      # what is kept', 'slipway retention -p blog --keep-days 30 --keep-production 20'],
  async run(ctx) {
    const project = await ctx.project();
    const keepProduction = setting(ctx, 'keep-production');
    const keepDays = setting(ctx, 'keep-days');
    const path = `/api/v1/projects/${enc(project)}/retention`;
    const r =
      keepProduction === undefined && keepDays === undefined
        ? await ctx.api().request<Retention>('GET', path)
        : await ctx.api().request<Retention>('PATCH', path, { ...(keepProduction === undefined ? {} : { keepProduction }), ...(keepDays === undefined ? {} : { keepDays }) });
    ctx.out.result(r, () => {
      ctx.out.line(`${ctx.out.bold(r.project)} keeps:`);
      ctx.out.line('  every deployment an alias, environment or domain serves, and every build under way or awaiting approval');
      ctx.out.line(`  the newest ${r.keepProduction} ready production deployments${r.keepProduction === r.defaults.keepProduction ? ' (default)' : ''}`);
      ctx.out.line(`  anything newer than ${r.keepDays} days${r.keepDays === r.defaults.keepDays ? ' (default)' : ''}; older deployments are removed with their logs`);
    });
  },
};

/** `slipway gc [--dry-run]`: retention and garbage collection now (the installation admin). */
export const gcCommand: Command = {
  summary: 'Remove what retention lets go and free the disk space (admin)',
  usage: ['slipway gc [--dry-run]'],
  options: { 'dry-run': { type: 'boolean' } },
  flags: ['--dry-run             list what would go and how many bytes, change nothing'],
  examples: ['slipway gc --dry-run                           # what would go', 'slipway gc                                     # remove it; prints the bytes freed'],
  async run(ctx) {
    const dryRun = ctx.values['dry-run'] === true;
    const r = await ctx.api().request<Report>('POST', '/api/v1/gc', { dryRun });
    ctx.out.result(r, () => {
      if (r.deployments.length > 0) {
        ctx.out.table(
          ['DEPLOYMENT', 'PROJECT', 'ENVIRONMENT', 'STATUS', 'CREATED'],
          r.deployments.map((d) => [d.id, d.project, d.environment, d.status, new Date(d.createdAt).toISOString().slice(0, 10)]),
        );
      }
      const verb = dryRun ? 'Would remove' : 'Removed';
      ctx.out.line(
        `${verb} ${r.deployments.length} deployment${r.deployments.length === 1 ? '' : 's'} and ${r.blobs.count} blob${r.blobs.count === 1 ? '' : 's'}: ${formatBytes(r.blobs.bytes)} ${dryRun ? 'to free' : 'freed'}.`,
      );
      ctx.out.line(`Kept ${r.kept.deployments} deployments (${r.kept.blobs} blobs, ${formatBytes(r.kept.bytes)}).`);
      const aws = r.aws;
      if (aws !== undefined && aws.versions.count + aws.objects.count + aws.aliases.length + aws.waiting.length > 0) {
        ctx.out.line(
          `AWS: ${dryRun ? 'would delete' : 'deleted'} ${aws.versions.count} Lambda versions, ${aws.objects.count} S3 objects (${formatBytes(aws.objects.bytes)}) and ${aws.aliases.length} closed previews' aliases; ${aws.waiting.length} removed deployments wait (still used, or AWS failed: the next run tries again).`,
        );
        if (dryRun) for (const arn of aws.versions.sample) ctx.out.line(`  ${arn}`);
      }
      for (const w of r.warnings ?? []) ctx.out.line(`Warning: ${w}`);
    });
  },
};
