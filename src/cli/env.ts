import { parseArgs } from 'node:util';
import { AppError } from '../errors/index.js';
import type { Client } from './client.js';

interface EnvVar {
  key: string;
  targets: string[];
  updatedAt: string;
}

/**
 * `slipway env ls|set|rm`: a project's environment variables. `set KEY VALUE`, or `set KEY`
 * with the value on stdin (one trailing newline dropped), so it stays out of shell history:
 * `slipway env set DATABASE_URL --project blog < db-url.txt`
 */
export async function envCommand(
  argv: string[],
  options: Record<string, { type: 'string' | 'boolean' }>,
  connect: (values: Record<string, unknown>) => Client,
  pickProject: (api: Client, given: string | undefined) => Promise<string>,
): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...options, project: { type: 'string' }, target: { type: 'string', multiple: true } },
  });
  const [action, key, value, ...extra] = positionals;
  const usage = 'slipway env ls | set <KEY> [VALUE] [--target production|preview] | rm <KEY>   (--project P)';
  const api = connect(values);
  const base = async () => `/api/v1/projects/${encodeURIComponent(await pickProject(api, values.project as string | undefined))}/env`;
  const needKey = () => {
    if (key === undefined) throw new AppError('VALIDATION', `Which variable? slipway env ${action} <KEY>`, { hint: usage });
    return encodeURIComponent(key);
  };
  if (extra.length > 0) throw new AppError('VALIDATION', `Unexpected argument ${JSON.stringify(extra[0])}.`, { hint: `${usage}\n(quote a value that has spaces)` });

  switch (action) {
    case 'ls':
    case 'list': {
      const { env } = await api.request<{ env: EnvVar[] }>('GET', await base());
      if (env.length === 0) console.log('No variables yet. Add one: slipway env set <KEY> <VALUE>');
      for (const v of env) console.log(`${v.key}\t${v.targets.join(',')}\tupdated ${v.updatedAt}`);
      return;
    }
    case 'set': {
      const name = needKey();
      const given = value ?? (await readStdin());
      const targets = values.target as string[] | undefined;
      const res = await api.request<EnvVar>('PUT', `${await base()}/${name}`, { value: given, ...(targets === undefined ? {} : { targets }) });
      console.log(`Set ${res.key} for ${res.targets.join(' and ')}. It applies to the next deployment (redeploy to use it now).`);
      return;
    }
    case 'rm':
    case 'remove': {
      const name = needKey();
      await api.request('DELETE', `${await base()}/${name}`);
      console.log(`Removed ${key}. It is gone from the next deployment; existing deployments keep theirs.`);
      return;
    }
    default:
      throw new AppError('VALIDATION', action === undefined ? 'Which env command?' : `Unknown env command ${JSON.stringify(action)}.`, { hint: usage });
  }
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY === true) {
    throw new AppError('VALIDATION', 'No value given.', { hint: 'Pass it after the name, or pipe it in: slipway env set KEY < file' });
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}
