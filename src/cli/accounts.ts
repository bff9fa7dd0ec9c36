import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import type { Handler, HandlerCommand } from './command.js';
import { AppError } from '../errors/index.js';
import { ApiError, Client } from './client.js';
import { resolveUrl, saveLogin, storedLogin } from './credentials.js';

/**
 * People commands: users create, login, logout, whoami, teams, members, tokens, audit. Each
 * takes --url, --token, --data-dir like the others and --json for scripts.
 *   echo "$PW" | slipway users create --email ada@example.com --password-stdin --team default --role owner
 *   slipway login --email ada@example.com      (asks for the password without echo)
 *   slipway tokens create ci --project blog    (a deploy token for CI, shown once)
 */
const OPTIONS = { url: { type: 'string' }, token: { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' } } as const;

type Values = { url?: string | undefined; token?: string | undefined; 'data-dir'?: string | undefined; json?: boolean | undefined };
const connect = (v: Values) => new Client({ url: v.url, token: v.token, dataDir: v['data-dir'] });
// --url > SLIPWAY_URL > the stored login's server > http://localhost:3000, as for every command
const apiUrl = (v: Values) => resolveUrl({ url: v.url });

interface Me {
  user: { id: string; email: string | null; name: string | null };
  admin: boolean;
  teams: { slug: string; name: string; role: string }[];
}

/** Print `data` as JSON with --json, else the human lines. */
function out(v: Values, data: unknown, human: () => string[]): void {
  console.log(v.json === true ? JSON.stringify(data, null, 2) : human().join('\n'));
}

function need(value: string | undefined, what: string, usage: string): string {
  if (value === undefined || value === '') throw new AppError('VALIDATION', `Which ${what}?`, { hint: usage });
  return value;
}

/** --team, else the caller's only team. */
async function pickTeam(api: Client, given: string | undefined): Promise<string> {
  if (given !== undefined) return given;
  const me = await api.request<Me>('GET', '/api/v1/me');
  if (me.teams.length === 1) return me.teams[0]!.slug;
  throw new AppError('VALIDATION', me.teams.length === 0 ? 'You are in no team yet.' : 'Which team? You are in more than one.', {
    hint: `Pass --team${me.teams.length > 0 ? `, one of: ${me.teams.map((t) => t.slug).join(', ')}` : ''}`,
  });
}

/** A password from stdin (first line) or, on a terminal, typed without echo. */
async function readPassword(prompt: string, fromStdin: boolean): Promise<string> {
  const stdin = process.stdin;
  if (fromStdin || !stdin.isTTY) {
    let text = '';
    for await (const chunk of stdin) text += String(chunk);
    return text.replace(/\r?\n$/, '');
  }
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let typed = '';
    const onData = (chars: string) => {
      for (const c of chars) {
        if (c === '\r' || c === '\n') return finish(() => resolve(typed));
        if (c === '\u0003') return finish(() => reject(new AppError('BAD_REQUEST', 'Canceled.')));
        if (c === '\u007f' || c === '\b') typed = typed.slice(0, -1);
        else typed += c;
      }
    };
    const finish = (done: () => void) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      done();
    };
    stdin.on('data', onData);
  });
}

async function readLine(prompt: string): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(prompt)).trim();
  } finally {
    rl.close();
  }
}

/** One call with a session cookie (login makes a token this way, then ends the session). */
async function sessionCall<T>(url: string, method: string, path: string, body: unknown, session?: { cookie: string; csrf: string }): Promise<{ body: T; cookie?: string }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(session === undefined ? {} : { cookie: session.cookie, 'x-csrf-token': session.csrf }) },
    body: body === undefined ? null : JSON.stringify(body),
  }).catch(() => {
    throw new ApiError(0, 'UNREACHABLE', `Cannot reach Slipway at ${url}.`, 'Check --url (SLIPWAY_URL).');
  });
  const text = await res.text();
  const json = (text === '' ? {} : JSON.parse(text)) as T & { error?: { code: string; message: string; hint?: string } };
  if (!res.ok) throw new ApiError(res.status, json.error?.code ?? 'HTTP_ERROR', json.error?.message ?? `HTTP ${res.status}`, json.error?.hint);
  return { body: json, cookie: res.headers.get('set-cookie')?.split(';')[0] };
}

const handlers: Record<string, Handler> = {
  async users(argv) {
    const { values: v, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { ...OPTIONS, email: { type: 'string' }, name: { type: 'string' }, 'password-stdin': { type: 'boolean' }, team: { type: 'string' }, role: { type: 'string' } },
    });
    const usage = 'slipway users create --email E --password-stdin [--name N] [--team default --role owner]   |   slipway users ls';
    const api = connect(v);
    if (positionals[0] === 'ls' || positionals[0] === 'list') {
      const users = await api.list<{ id: string; email: string; name: string | null }>('/api/v1/users', 'users');
      return out(v, { users }, () => users.map((u) => `${u.id}\t${u.email}\t${u.name ?? ''}`));
    }
    if (positionals[0] !== 'create') throw new AppError('VALIDATION', 'slipway users create or users ls?', { hint: usage });
    const email = need(v.email, 'email (--email)', usage);
    const password = await readPassword('Password for the new account: ', v['password-stdin'] === true);
    const user = await api.request<{ id: string; email: string }>('POST', '/api/v1/users', {
      email,
      password,
      name: v.name,
      ...(v.team === undefined ? {} : { team: v.team, role: v.role ?? 'member' }),
    });
    out(v, user, () => [`Made ${user.email} (${user.id})${v.team === undefined ? '' : ` in team ${v.team} as ${v.role ?? 'member'}`}.`]);
  },

  async login(argv) {
    const { values: v } = parseArgs({ args: argv, options: { ...OPTIONS, email: { type: 'string' }, 'password-stdin': { type: 'boolean' } } });
    const url = apiUrl(v);
    if (v.token !== undefined) {
      const me = await new Client({ url, token: v.token }).request<Me>('GET', '/api/v1/me');
      saveLogin(url, { token: v.token, tokenId: null, email: me.user.email });
      return out(v, me, () => [`Logged in to ${url} as ${me.user.email ?? me.user.name} (token stored).`]);
    }
    const email = v.email ?? (await readLine('Email: '));
    const password = await readPassword('Password: ', v['password-stdin'] === true);
    // a session only long enough to make this machine a personal token, which is what is stored
    const login = await sessionCall<{ csrfToken: string; user: Me['user'] }>(url, 'POST', '/api/v1/auth/login', { email, password });
    const session = { cookie: login.cookie ?? '', csrf: login.body.csrfToken };
    const made = await sessionCall<{ token: string; id: string }>(url, 'POST', '/api/v1/tokens', { name: `slipway cli on ${hostname()}` }, session);
    await sessionCall(url, 'POST', '/api/v1/auth/logout', undefined, session).catch(() => undefined);
    saveLogin(url, { token: made.body.token, tokenId: made.body.id, email: login.body.user.email });
    out(v, { user: login.body.user, tokenId: made.body.id }, () => [`Logged in to ${url} as ${login.body.user.email}.`]);
  },

  async logout(argv) {
    const { values: v } = parseArgs({ args: argv, options: OPTIONS });
    const url = apiUrl(v);
    const stored = storedLogin(url);
    if (stored === undefined) return out(v, { loggedOut: false }, () => [`Not logged in to ${url}.`]);
    // the token made at login stops working on the server too, not only here
    if (stored.tokenId !== null) await new Client({ url, token: stored.token }).request('DELETE', `/api/v1/tokens/${stored.tokenId}`).catch(() => undefined);
    saveLogin(url, undefined);
    out(v, { loggedOut: true }, () => [`Logged out of ${url}.`]);
  },

  async whoami(argv) {
    const { values: v } = parseArgs({ args: argv, options: OPTIONS });
    const me = await connect(v).request<Me>('GET', '/api/v1/me');
    out(v, me, () => [`${me.user.email ?? me.user.name}${me.admin ? ' (installation admin)' : ''}`, ...me.teams.map((t) => `  ${t.slug}\t${t.role}`)]);
  },

  async teams(argv) {
    const { values: v, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...OPTIONS, name: { type: 'string' } } });
    const api = connect(v);
    if (positionals[0] === 'create') {
      const team = await api.request<{ slug: string }>('POST', '/api/v1/teams', { slug: need(positionals[1], 'slug', 'slipway teams create <slug> [--name N]'), name: v.name });
      return out(v, team, () => [`Made team ${team.slug}; you are its owner.`]);
    }
    if (positionals[0] === 'rm') {
      const slug = need(positionals[1], 'slug', 'slipway teams rm <slug>');
      await api.request('DELETE', `/api/v1/teams/${encodeURIComponent(slug)}`);
      return out(v, { deleted: slug }, () => [`Deleted team ${slug}.`]);
    }
    const teams = await api.list<Me['teams'][number]>('/api/v1/teams', 'teams');
    out(v, { teams }, () => (teams.length === 0 ? ['No teams. Make one: slipway teams create <slug>'] : teams.map((t) => `${t.slug}\t${t.role}\t${t.name}`)));
  },

  async members(argv) {
    const { values: v, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...OPTIONS, team: { type: 'string' }, role: { type: 'string' } } });
    const usage = 'slipway members [ls] | add <email> --role R | set <email> --role R | rm <email>   (--team T)';
    const api = connect(v);
    const base = `/api/v1/teams/${encodeURIComponent(await pickTeam(api, v.team))}/members`;
    const [action = 'ls', who] = positionals;
    type Member = { id: string; email: string; role: string };
    const find = async (emailOrId: string) => {
      const members = await api.list<Member>(base, 'members');
      const m = members.find((x) => x.id === emailOrId || x.email === emailOrId.toLowerCase());
      if (m === undefined) throw new AppError('VALIDATION', `${emailOrId} is not a member.`, { hint: 'See them with: slipway members' });
      return m;
    };
    if (action === 'ls' || action === 'list') {
      const members = await api.list<Member>(base, 'members');
      return out(v, { members }, () => members.map((m) => `${m.email}\t${m.role}\t${m.id}`));
    }
    const target = need(who, 'person', usage);
    if (action === 'add') return out(v, await api.request('POST', base, { email: target, role: v.role ?? 'member' }), () => [`Added ${target} as ${v.role ?? 'member'}.`]);
    if (action === 'set') return out(v, await api.request('PATCH', `${base}/${(await find(target)).id}`, { role: need(v.role, 'role (--role)', usage) }), () => [`${target} is now ${v.role}.`]);
    if (action === 'rm' || action === 'remove') {
      await api.request('DELETE', `${base}/${(await find(target)).id}`);
      return out(v, { removed: target }, () => [`Removed ${target}.`]);
    }
    throw new AppError('VALIDATION', `Unknown members action "${action}".`, { hint: usage });
  },

  async tokens(argv) {
    const { values: v, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...OPTIONS, team: { type: 'string' }, project: { type: 'string' }, expires: { type: 'string' } } });
    const usage = 'slipway tokens [ls] | create <name> [--team T | --project P] [--expires 2026-12-31T00:00:00Z] | rm <id>';
    const api = connect(v);
    const [action = 'ls', arg] = positionals;
    if (action === 'ls' || action === 'list') {
      type Row = { id: string; name: string; prefix: string; team: string | null; project: string | null; lastUsedAt: string | null; expiresAt: string | null };
      const tokens = await api.list<Row>('/api/v1/tokens', 'tokens');
      return out(v, { tokens }, () =>
        tokens.map(
          (t) => `${t.id}\t${t.name}\t${t.prefix}…\t${t.project !== null ? `project ${t.project}` : (t.team ?? 'all teams')}\tlast used ${t.lastUsedAt ?? 'never'}\texpires ${t.expiresAt ?? 'never'}`,
        ),
      );
    }
    if (action === 'create') {
      const made = await api.request<{ token: string; id: string }>('POST', '/api/v1/tokens', { name: need(arg, 'name', usage), team: v.team, project: v.project, expiresAt: v.expires });
      return out(v, made, () => [made.token, `(token ${made.id}: shown only now; store it as a secret)`]);
    }
    if (action === 'rm' || action === 'revoke') {
      await api.request('DELETE', `/api/v1/tokens/${encodeURIComponent(need(arg, 'token id', usage))}`);
      return out(v, { revoked: arg }, () => [`Revoked ${arg}; it stops working now.`]);
    }
    throw new AppError('VALIDATION', `Unknown tokens action "${action}".`, { hint: usage });
  },

  async audit(argv) {
    const { values: v } = parseArgs({ args: argv, options: { ...OPTIONS, team: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' } } });
    const api = connect(v);
    const team = await pickTeam(api, v.team);
    type Event = { at: string; actor: { type: string; id: string; email?: string }; action: string; target: string; details: Record<string, unknown> };
    const q = new URLSearchParams({ ...(v.limit === undefined ? {} : { limit: v.limit }), ...(v.cursor === undefined ? {} : { cursor: v.cursor }) });
    const page = await api.request<{ events: Event[]; nextCursor: string | null }>('GET', `/api/v1/teams/${encodeURIComponent(team)}/audit?${q}`);
    out(v, page, () => [
      ...page.events.map((e) => `${e.at}\t${e.actor.email ?? `${e.actor.type} ${e.actor.id}`}\t${e.action}\t${e.target}`),
      ...(page.nextCursor === null ? [] : [`(more: slipway audit --team ${team} --cursor ${page.nextCursor})`]),
    ]);
  },
};

/** What `slipway <cmd> --help` says about each account command. */
const HELP: Record<string, Omit<HandlerCommand, 'handler'>> = {
  users: {
    summary: 'Create and list user accounts (installation admin)',
    usage: ['slipway users create --email E --password-stdin [--name N] [--team T --role owner|member|viewer]', 'slipway users ls'],
    flags: [
      "--email E           the new account's email",
      '--password-stdin    read the password from stdin (else asked for, without echo)',
      '--name N            a display name',
      '--team T --role R   also make the user a member of team T with role R',
    ],
    examples: ['echo "$PASSWORD" | slipway users create --email ada@example.com --password-stdin --team default --role owner   # the first owner', 'slipway users ls --json   # every account'],
  },
  login: {
    summary: 'Log in with email and password (or a token); the token is stored with mode 0600',
    usage: ['slipway login [--email E] [--password-stdin]', 'slipway login --token TOKEN'],
    flags: [
      '--email E           the account (asked for when missing)',
      '--password-stdin    read the password from stdin (else asked for, without echo)',
      '--token TOKEN       store this token instead',
    ],
    examples: ['slipway login --url https://deploy.example.com   # asks for email and password', 'slipway login --token "$SLIPWAY_TOKEN"   # for a CI machine'],
  },
  logout: {
    summary: "Revoke the stored login's token and forget it",
    usage: ['slipway logout'],
    examples: ['slipway logout'],
  },
  whoami: {
    summary: 'Show the account and teams the current token acts as',
    usage: ['slipway whoami'],
    examples: ['slipway whoami', 'slipway whoami --json | jq -r .user.email'],
  },
  teams: {
    summary: 'List your teams, create one, or delete an empty one',
    usage: ['slipway teams [ls]', 'slipway teams create <slug> [--name N]', 'slipway teams rm <slug>'],
    flags: ["--name N            the team's display name"],
    examples: ['slipway teams', 'slipway teams create studio --name "Studio Clients"', 'slipway teams rm old-studio'],
  },
  members: {
    summary: "List, add, change and remove a team's members (owners)",
    usage: [
      'slipway members [ls] [--team T]',
      'slipway members add <email> --role owner|member|viewer [--team T]',
      'slipway members set <email> --role R [--team T]',
      'slipway members rm <email> [--team T]',
    ],
    flags: ['--team T            the team (default: your only team)', '--role R            owner, member or viewer'],
    examples: ['slipway members --team studio', 'slipway members add bob@example.com --role viewer --team studio'],
  },
  tokens: {
    summary: 'Create, list and revoke API tokens (personal, or deploy tokens for one project)',
    usage: ['slipway tokens [ls]', 'slipway tokens create <name> [--team T | --project P] [--expires 2027-01-31T00:00:00Z]', 'slipway tokens rm <id>'],
    flags: ['--team T            a personal token limited to one team', '--project P         a deploy token for one project (CI)', '--expires ISO-TIME  when it stops working'],
    examples: ['slipway tokens create ci --project blog   # prints the token once: put it in your CI secrets', 'slipway tokens rm tok_3f9a1c2b   # revoked at once'],
  },
  audit: {
    summary: 'Show who did what in a team, newest first',
    usage: ['slipway audit [--team T] [--limit N] [--cursor C]'],
    flags: ['--team T            the team (default: your only team)', '--limit N           events per page', '--cursor C          the next page (from the previous answer)'],
    examples: ['slipway audit --team studio', 'slipway audit --json --limit 100 | jq ".events[].action"'],
  },
};

/** The account commands as rows of the command table (./commands.ts): each parses its own flags. */
export const accountCommands: Record<string, HandlerCommand> = Object.fromEntries(Object.entries(handlers).map(([name, handler]) => [name, { ...HELP[name]!, handler }]));
