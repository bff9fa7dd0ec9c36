import type { Context } from './command.js';

interface AccessLine {
  id: number;
  at: string;
  method: string;
  host: string;
  path: string;
  status: number;
  bytes: number;
  durationMs: number;
  deploymentId: string;
  clientIp: string;
}
interface ServerLine {
  id: number;
  at: string;
  deploymentId: string;
  text: string;
}
interface LogPage {
  lines: (AccessLine | ServerLine)[];
  next: string;
}

/** `slipway logs --access|--server` waits this long between polls while following */
const FOLLOW_POLL_MS = 1000;

/**
 * `slipway logs --project P --access [--follow]`: the project's access log (requests the edge
 * answered); `--server`: what its SSR servers printed. The last --tail entries (default 100),
 * then, with --follow, new ones as they come (polling the API's cursor) until Ctrl-C.
 * One line each: `time status method host path bytes ms deployment client` (tab-separated
 * when piped, so `cut -f2` is the status).
 */
export async function siteLogs(ctx: Context): Promise<void> {
  const type = ctx.values.server === true ? 'server' : 'access';
  const project = await ctx.project();
  const api = ctx.api();
  const deployment = (ctx.values.deployment as string | undefined) ?? ctx.positionals[0];
  const tail = (ctx.values.tail as string | undefined) ?? '100';
  if (!/^[0-9]{1,4}$/.test(tail)) throw ctx.usage(`--tail takes a number of entries (1 to 1000), got ${JSON.stringify(tail)}.`);
  const query = (since: string | undefined) =>
    `/api/v1/projects/${encodeURIComponent(project)}/logs?type=${type}${since === undefined ? `&tail=${tail}` : `&since=${since}`}${deployment === undefined ? '' : `&deployment=${encodeURIComponent(deployment)}`}`;
  const print = (line: AccessLine | ServerLine) => {
    if (ctx.out.json) return;
    const fields =
      'text' in line
        ? [line.at, line.deploymentId, line.text]
        : [line.at, String(line.status), line.method, line.host, line.path, String(line.bytes), `${line.durationMs.toFixed(1)}ms`, line.deploymentId, line.clientIp];
    ctx.out.line(fields.join(ctx.out.tty ? ' ' : '\t'));
  };
  const all: LogPage['lines'] = [];
  let page = await api.request<LogPage>('GET', query(undefined));
  for (const line of page.lines) print(line);
  all.push(...page.lines);
  if (ctx.values.follow !== true) {
    if (ctx.out.json) ctx.out.result({ project, type, lines: all, next: page.next }, () => undefined);
    return;
  }
  // following prints as it goes (with --json: one JSON object a line) until interrupted
  for (let cursor = page.next; ; cursor = page.next) {
    await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
    page = await api.request<LogPage>('GET', query(cursor));
    for (const line of page.lines) {
      if (ctx.out.json) process.stdout.write(`${JSON.stringify(line)}\n`);
      else print(line);
    }
  }
}
