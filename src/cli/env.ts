import { readFile, writeFile } from 'node:fs/promises';
import type { Command, Context } from './command.js';
import { PROJECT_OPTION } from './command.js';
import { UsageError } from './output.js';
import { ApiError } from './client.js';

interface EnvVar {
  key: string;
  targets: string[];
  branch: string | null;
  updatedAt: string;
}

const enc = encodeURIComponent;

/**
 * `slipway env ls|set|rm|pull|import`: a project's environment variables. Listing never shows
 * values; `pull` writes them for members and owners (an audited read), names only for viewers.
 */
export const envCommand: Command = {
  summary: 'List, set, remove, pull and import environment variables',
  usage: [
    'slipway env ls [--project P]',
    'slipway env set <KEY> [VALUE] [--target ENV]... [--branch B]   (no VALUE: read from stdin)',
    'slipway env rm <KEY> [--target ENV] [--branch B]',
    'slipway env pull [FILE=.env] [--target ENV] [--branch B] [--names-only] [--yes]',
    'slipway env import <FILE> [--target production|preview]...',
  ],
  options: { ...PROJECT_OPTION, target: { type: 'string', multiple: true }, branch: { type: 'string' }, yes: { type: 'boolean', short: 'y' }, 'names-only': { type: 'boolean' } },
  flags: [
    "-p, --project P     the project (default: SLIPWAY_PROJECT, this folder's link, or the only one)",
    '--target ENV        production, preview or a named environment (repeat for more; default: all)',
    "--branch B          set: only deployments of branch B get this value (over the environment's own)",
    '-y, --yes           pull: overwrite FILE if it exists',
    "--names-only        pull: KEY= lines without values (a viewer's pull is always this)",
  ],
  examples: [
    'slipway env set API_URL https://api.example.com --target production',
    'slipway env set API_URL https://staging-api.example.com --target staging',
    'slipway env set API_URL https://mock.example.com --target preview --branch feature-x',
    'slipway env set DATABASE_URL < db-url.txt          # stays out of shell history',
    'slipway env import .env.production --target production',
    'slipway env pull .env.local                         # production values (members and owners)',
    'slipway env pull .env.staging --target staging --yes',
    'slipway env pull .env.example --names-only          # KEY= lines to fill in locally',
    'slipway env ls --json | jq -r ".env[].key"',
  ],
  async run(ctx) {
    const [action, key, value, ...extra] = ctx.positionals;
    if (extra.length > 0) throw ctx.usage(`Unexpected argument ${JSON.stringify(extra[0])} (quote a value that has spaces).`);
    const base = async () => `/api/v1/projects/${enc(await ctx.project())}/env`;
    const targets = ctx.values.target as string[] | undefined;
    const branch = ctx.values.branch as string | undefined;
    const api = () => ctx.api();
    switch (action) {
      case 'ls':
      case 'list': {
        const answer = { project: await ctx.project(), env: await api().list<EnvVar>(await base(), 'env') };
        ctx.out.result(answer, () => {
          if (answer.env.length === 0) {
            ctx.out.note('No variables yet. Add one: slipway env set <KEY> <VALUE>');
            return;
          }
          // the BRANCH column only once some variable has a branch override
          const branches = answer.env.some((v) => v.branch !== null);
          ctx.out.table(
            branches ? ['NAME', 'TARGETS', 'BRANCH', 'UPDATED'] : ['NAME', 'TARGETS', 'UPDATED'],
            answer.env.map((v) => [v.key, v.targets.join(','), ...(branches ? [v.branch ?? '-'] : []), `updated ${v.updatedAt}`]),
          );
        });
        return;
      }
      case 'set': {
        if (key === undefined) throw ctx.usage('Which variable? slipway env set <KEY> [VALUE]');
        const given = value ?? (await readStdin());
        const res = await api().request<EnvVar>('PUT', `${await base()}/${enc(key)}`, { value: given, ...(targets === undefined ? {} : { targets }), ...(branch === undefined ? {} : { branch }) });
        const where = `${res.targets.length > 1 ? `${res.targets.slice(0, -1).join(', ')} and ${res.targets.at(-1)}` : res.targets.join('')}${res.branch === null ? '' : ` on branch ${res.branch}`}`;
        ctx.out.result(res, () => ctx.out.line(`Set ${res.key} for ${where}. It applies to the next deployment (redeploy to use it now).`));
        return;
      }
      case 'rm':
      case 'remove': {
        if (key === undefined || value !== undefined) throw ctx.usage('slipway env rm <KEY> (one name)');
        if ((targets?.length ?? 0) > 1) throw ctx.usage('slipway env rm takes one --target.');
        const query = new URLSearchParams({ ...(targets?.[0] === undefined ? {} : { target: targets[0] }), ...(branch === undefined ? {} : { branch }) }).toString();
        await api().request('DELETE', `${await base()}/${enc(key)}${query === '' ? '' : `?${query}`}`);
        ctx.out.result({ removed: key }, () => ctx.out.line(`Removed ${key}. It is gone from the next deployment; existing deployments keep theirs.`));
        return;
      }
      case 'pull':
        if ((targets?.length ?? 0) > 1) throw ctx.usage('slipway env pull takes one --target.');
        return pull(ctx, key ?? '.env', await base(), targets?.[0], branch);
      case 'import': {
        if (key === undefined) throw ctx.usage('Which file? slipway env import <FILE>');
        return importFile(ctx, key, await base(), targets);
      }
      default:
        throw ctx.usage(action === undefined ? 'Which env command?' : `Unknown env command ${JSON.stringify(action)}.`);
    }
  },
};

async function pull(ctx: Context, file: string, base: string, environment: string | undefined, branch: string | undefined): Promise<void> {
  const project = await ctx.project();
  let values: Record<string, string> | undefined;
  let why = '';
  if (ctx.values['names-only'] !== true) {
    const query = new URLSearchParams({ ...(environment === undefined ? {} : { environment }), ...(branch === undefined ? {} : { branch }) }).toString();
    try {
      values = (await ctx.api().request<{ values: Record<string, string> }>('GET', `${base}/values${query === '' ? '' : `?${query}`}`)).values;
    } catch (err) {
      // a viewer (or a deploy token) may read names, never values
      if (!(err instanceof ApiError) || err.status !== 403) throw err;
      why = ' (your role may read names, not values)';
    }
  }
  const names = values === undefined ? (await ctx.api().list<EnvVar>(base, 'env')).map((v) => v.key) : Object.keys(values);
  const unique = [...new Set(names)];
  const header =
    values === undefined
      ? `# Variables of ${project} on Slipway: names only${why}`
      : `# Variables of ${project} on Slipway for ${environment ?? 'production'}${branch === undefined ? '' : ` (branch ${branch})`}: keep this file out of git`;
  const body = [header, ...unique.map((k) => `${k}=${values === undefined ? '' : dotenvValue(values[k] ?? '')}`), ''].join('\n');
  try {
    await writeFile(file, body, { flag: ctx.values.yes === true ? 'w' : 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`${file} exists; nothing was written.`, `Overwrite it with --yes, or name another file: slipway env pull .env.slipway`);
    throw err;
  }
  ctx.out.result({ file, names: unique, values: values !== undefined }, () =>
    ctx.out.line(
      values === undefined
        ? `Wrote ${unique.length} name${unique.length === 1 ? '' : 's'} to ${file}${why}; fill the values in locally.`
        : `Wrote ${unique.length} variable${unique.length === 1 ? '' : 's'} with their values to ${file} (mode 0600). Keep it out of git.`,
    ),
  );
}

/** A value as a .env line takes it: bare when plain, else double-quoted with \\, " and newlines escaped (what `env import` reads back). */
export function dotenvValue(value: string): string {
  if (/^[A-Za-z0-9_./:@%+,=-]*$/.test(value)) return value;
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

async function importFile(ctx: Context, file: string, base: string, targets: string[] | undefined): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new UsageError(`Cannot read ${file}.`, 'slipway env import <path of a .env file>');
  }
  const vars = parseDotenv(text, file);
  const api = ctx.api();
  const before = new Set((await api.list<EnvVar>(base, 'env')).map((v) => v.key));
  const added: string[] = [];
  const replaced: string[] = [];
  for (const [key, value] of vars) {
    await api.request('PUT', `${base}/${enc(key)}`, { value, ...(targets === undefined ? {} : { targets }) });
    (before.has(key) ? replaced : added).push(key);
  }
  ctx.out.result({ file, added, replaced }, () => {
    if (vars.size === 0) ctx.out.line(`${file} has no variables; nothing changed.`);
    for (const key of added) ctx.out.line(`${ctx.out.green('+')} ${key}`);
    // values are write-only, so an unchanged value cannot be told apart from a changed one
    for (const key of replaced) ctx.out.line(`${ctx.out.yellow('~')} ${key} (replaced)`);
    if (vars.size > 0) ctx.out.line(`${added.length} added, ${replaced.length} replaced. They apply to the next deployment.`);
  });
}

/**
 * The common `.env` shape: `KEY=value`, optional `export `, `#` comments, blank lines; values
 * in single quotes are literal, in double quotes take \n, \t, \" and \\ escapes, unquoted ones
 * end at ` #`. A line that is none of these is an error naming the line.
 */
export function parseDotenv(text: string, file = '.env'): Map<string, string> {
  const out = new Map<string, string>();
  text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
      if (m === null) throw new UsageError(`${file} line ${i + 1} is not KEY=VALUE: ${JSON.stringify(raw.slice(0, 60))}`, 'Fix or remove that line, then import again.');
      const [, key, rest] = m as unknown as [string, string, string];
      let value: string;
      const quoted = rest.startsWith("'") ? /^'([^']*)'/.exec(rest) : rest.startsWith('"') ? /^"((?:[^"\\]|\\.)*)"/.exec(rest) : undefined;
      if (quoted === null) throw new UsageError(`${file} line ${i + 1}: the quote of ${key} is not closed.`, 'Multi-line values are not supported: use \\n inside double quotes.');
      if (quoted !== undefined) {
        value = quoted[1]!;
        if (rest.startsWith('"')) value = value.replace(/\\([nt"\\])/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c));
      } else value = rest.replace(/\s+#.*$/, '').trim();
      out.set(key, value);
    });
  return out;
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY === true) throw new UsageError('No value given.', 'Pass it after the name, or pipe it in: slipway env set KEY < file');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}
