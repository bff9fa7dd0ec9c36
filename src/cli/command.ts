import { parseArgs } from 'node:util';
import { Client } from './client.js';
import { findLink } from './link.js';
import { type Output, UsageError } from './output.js';

export type OptionSpec = { type: 'string' | 'boolean'; short?: string; multiple?: boolean };
export type Values = Record<string, string | boolean | string[] | undefined>;

/**
 * One row of the command table (./commands.ts). Adding a command is adding a row:
 * `whoami: { summary: 'Show who you are logged in as', usage: ['slipway whoami'], examples: [...], run: async (ctx) => ... }`
 */
export interface Command {
  /** one line for `slipway --help` */
  summary: string;
  /** the synopsis lines of `slipway <cmd> --help` */
  usage: string[];
  /** flags beyond the common ones (--url, --token, --data-dir, --json, --help) */
  options?: Record<string, OptionSpec>;
  /** `--flag  what it does` lines for the help */
  flags?: string[];
  /** shell lines, each with a comment saying what it does */
  examples: string[];
  /** kept for old scripts but not listed in `slipway --help` */
  hidden?: boolean;
  run(ctx: Context): Promise<void>;
}

/**
 * A command that parses its own argv (flags, --json, --help) and throws ApiError, AppError or
 * UsageError; the exit code and the error's printing are still main's. A Command row is better
 * (help and examples come from the table); this lets a file of handlers plug in as they are.
 */
export type Handler = (argv: string[]) => Promise<void>;

/** A Handler with the help a Command row has: `slipway <cmd> --help` prints it without running the handler. */
export interface HandlerCommand extends Pick<Command, 'summary' | 'usage' | 'flags' | 'examples'> {
  handler: Handler;
}

export interface Context {
  positionals: string[];
  values: Values;
  out: Output;
  /** the API client for --url/--token/--data-dir (see resolveAuth) */
  api(): Client;
  /** --project, SLIPWAY_PROJECT, the folder's link (slipway link), or the only project there is */
  project(): Promise<string>;
  /** a usage error carrying this command's synopsis as its hint */
  usage(message: string): UsageError;
}

export const COMMON_OPTIONS: Record<string, OptionSpec> = {
  url: { type: 'string' },
  token: { type: 'string' },
  'data-dir': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

export const PROJECT_OPTION: Record<string, OptionSpec> = { project: { type: 'string', short: 'p' } };

export const COMMON_FLAGS = [
  '--json              one JSON document on stdout (errors as {"error":...} on stderr)',
  "--url URL           the Slipway API (SLIPWAY_URL; default: the stored login's, else http://localhost:3000)",
  '--token TOKEN       API token (SLIPWAY_TOKEN; default: the stored login, else <data-dir>/admin-token)',
  '--data-dir DIR      where a local "slipway up" keeps its admin-token (SLIPWAY_DATA_DIR, default .slipway)',
  '-h, --help          this help',
];

export const EXIT_CODES = '0 ok · 1 failed (deployment failed, check not passing, request refused) · 2 usage · 3 not found · 4 auth · 5 server unreachable';

/** Parse `argv` for `cmd` and run it. `--json` is known before parsing so even a usage error is printed as JSON. */
export async function runCommand(name: string, cmd: Command, argv: string[], out: Output): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { ...COMMON_OPTIONS, ...cmd.options } });
  if (values.help === true) {
    process.stdout.write(commandHelp(name, cmd));
    return;
  }
  let client: Client | undefined;
  const ctx: Context = {
    positionals,
    values: values as Values,
    out,
    api: () => (client ??= new Client({ url: values.url as string | undefined, token: values.token as string | undefined, dataDir: values['data-dir'] as string | undefined })),
    project: () => pickProject(ctx),
    usage: (message) => new UsageError(message, `Usage: ${cmd.usage.join('\n       ')}\n(slipway ${name} --help for more)`),
  };
  await cmd.run(ctx);
}

async function pickProject(ctx: Context): Promise<string> {
  const given = (ctx.values.project as string | undefined) ?? (process.env.SLIPWAY_PROJECT || undefined);
  if (given !== undefined) return given;
  const api = ctx.api();
  const link = findLink();
  if (link !== undefined && link.url === api.url) return link.project;
  const projects = await api.list<{ name: string }>('/api/v1/projects', 'projects');
  if (projects.length === 1) return projects[0]!.name;
  throw new UsageError(
    projects.length === 0 ? 'There are no projects yet.' : 'Which project? There is more than one, and this folder is not linked to one.',
    projects.length === 0 ? 'Create one: slipway projects create <name> --repo <git url>' : `Pass --project, or run "slipway link <project>" here. Projects: ${projects.map((p) => p.name).join(', ')}`,
  );
}

export function commandHelp(name: string, cmd: Pick<Command, 'summary' | 'usage' | 'flags' | 'examples'>): string {
  const lines = [`slipway ${name}: ${cmd.summary}`, '', 'Usage:', ...cmd.usage.map((u) => `  ${u}`)];
  if (cmd.flags !== undefined && cmd.flags.length > 0) lines.push('', 'Flags:', ...cmd.flags.map((f) => `  ${f}`));
  lines.push('', 'Common flags:', ...COMMON_FLAGS.map((f) => `  ${f}`));
  lines.push('', 'Examples:', ...cmd.examples.map((e) => `  ${e}`));
  lines.push('', `Exit codes: ${EXIT_CODES}`, '');
  return lines.join('\n');
}
