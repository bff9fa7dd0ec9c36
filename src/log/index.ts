import { pino, type Logger } from 'pino';

/**
 * Slipway's own log (not the CLI's output to people): one JSON object a line on stderr, the way
 * log collectors (journald, Loki, CloudWatch) read it, when stderr is not a terminal; a readable
 * line (`12:03:04 WARN  [edge] message key=value`) when it is. SLIPWAY_LOG_LEVEL picks the
 * level (trace, debug, info, warn, error; default info), SLIPWAY_LOG_FORMAT=json|pretty overrides
 * the choice.
 *
 * ```ts
 * const log = logger('worker');
 * log.error({ err, jobId }, 'job crashed');
 * ```
 */
export function logger(component: string): Logger {
  return root().child({ component });
}

let base: Logger | undefined;

function root(): Logger {
  if (base !== undefined) return base;
  const level = process.env.SLIPWAY_LOG_LEVEL || 'info';
  const format = process.env.SLIPWAY_LOG_FORMAT;
  const pretty = format === 'pretty' || (format !== 'json' && process.stderr.isTTY === true);
  const options = { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  base = pretty ? pino(options, { write: (line: string) => process.stderr.write(prettyLine(line)) }) : pino(options, pino.destination({ fd: 2, sync: true }));
  return base;
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const OMIT = new Set(['level', 'time', 'pid', 'component', 'msg', 'err', 'hostname']);

/** One pino JSON line as a person reads it on a terminal; an error's stack follows on its own lines. */
export function prettyLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = typeof o.time === 'string' ? o.time.slice(11, 19) : '';
  const extra = Object.entries(o)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const err = o.err as { stack?: string; message?: string } | undefined;
  const tail = err === undefined ? '' : `\n  ${(err.stack ?? err.message ?? '').split('\n').join('\n  ')}`;
  return `${time} ${LEVELS[o.level as number] ?? String(o.level)} [${String(o.component ?? 'slipway')}] ${String(o.msg ?? '')}${extra === '' ? '' : ` ${extra}`}${tail}\n`;
}
