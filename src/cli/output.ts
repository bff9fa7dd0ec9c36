import { AppError } from '../errors/index.js';
import { ApiError } from './client.js';

/**
 * What the exit code says, for scripts (documented in `slipway --help` and the README):
 * 0 ok; 1 the thing failed (a failed deployment, a check that did not pass, the API refused the
 * request); 2 usage (a bad flag, a missing argument); 3 not found; 4 not logged in or not
 * allowed; 5 the server cannot be reached.
 */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, NOT_FOUND: 3, AUTH: 4, UNREACHABLE: 5 } as const;

/** A mistake in the command line itself: exit code 2, with the command's usage as the hint. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** A command that ran but did not succeed (a failed build, a DNS check not passing): exit 1, nothing more printed. */
export class Failed extends Error {}

export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return EXIT.USAGE;
  if (err instanceof ApiError) {
    if (err.code === 'UNREACHABLE') return EXIT.UNREACHABLE;
    if (err.code === 'NO_TOKEN' || err.status === 401 || err.status === 403) return EXIT.AUTH;
    if (err.status === 404) return EXIT.NOT_FOUND;
    return EXIT.FAILED;
  }
  if (isParseArgsError(err)) return EXIT.USAGE;
  return EXIT.FAILED;
}

export function isParseArgsError(err: unknown): boolean {
  return err instanceof TypeError && (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS') === true;
}

type Paint = (text: string) => string;

/**
 * Where a command's results go. Human mode: lines on stdout, colour only when stdout is a
 * terminal and NO_COLOR is unset; tables aligned with a header on a terminal, tab-separated
 * without one when piped (so `cut -f1` works). `--json`: exactly one JSON document on stdout,
 * nothing else there; progress and notes go to stderr in both modes.
 */
export class Output {
  readonly tty: boolean;
  readonly color: boolean;
  readonly bold: Paint;
  readonly dim: Paint;
  readonly green: Paint;
  readonly red: Paint;
  readonly yellow: Paint;
  readonly cyan: Paint;

  constructor(readonly json: boolean) {
    this.tty = process.stdout.isTTY === true;
    this.color = this.tty && !json && (process.env.NO_COLOR ?? '') === '';
    const sgr = (on: number, off: number): Paint => (this.color ? (t) => `\x1b[${on}m${t}\x1b[${off}m` : (t) => t);
    this.bold = sgr(1, 22);
    this.dim = sgr(2, 22);
    this.green = sgr(32, 39);
    this.red = sgr(31, 39);
    this.yellow = sgr(33, 39);
    this.cyan = sgr(36, 39);
  }

  /** The command's answer: `data` as JSON with --json, else what `human` prints. */
  result(data: unknown, human: () => void): void {
    if (this.json) process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    else human();
  }

  line(text = ''): void {
    process.stdout.write(`${text}\n`);
  }

  /** A note for people (stderr, so it never mixes into --json or piped output). */
  note(text: string): void {
    if (!this.json) process.stderr.write(`${text}\n`);
  }

  table(header: string[], rows: string[][]): void {
    if (!this.tty) {
      for (const row of rows) this.line(row.join('\t'));
      return;
    }
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? '').length)));
    const pad = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - visible(c).length))).join('  ');
    this.line(this.dim(pad(header)));
    for (const row of rows) this.line(pad(row));
  }

  /** A deployment status, coloured by what it means. */
  status(status: string): string {
    if (status === 'ready') return this.green(status);
    if (status === 'failed') return this.red(status);
    if (status === 'canceled' || status === 'rejected' || status === 'removed') return this.dim(status);
    return this.yellow(status);
  }

  /** Print an error: `{"error":{...}}` on stderr with --json, else "Error: ..." and "Hint: ...". */
  error(err: unknown): void {
    const shaped = shapeError(err);
    if (shaped === undefined) {
      console.error(err);
      return;
    }
    if (this.json) {
      process.stderr.write(`${JSON.stringify({ error: shaped })}\n`);
      return;
    }
    process.stderr.write(`${this.red('Error:')} ${shaped.message}\n`);
    if (shaped.hint !== undefined) process.stderr.write(`Hint: ${shaped.hint}\n`);
  }
}

function visible(text: string): string {
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}

/** The API's error shape for anything the CLI can explain; undefined for a bug (printed with its stack). */
function shapeError(err: unknown): { code: string; message: string; hint?: string } | undefined {
  const withHint = (code: string, message: string, hint: string | undefined) => (hint === undefined ? { code, message } : { code, message, hint });
  if (err instanceof ApiError) return withHint(err.code, err.message, err.hint);
  if (err instanceof AppError) return withHint(err.code, err.message, err.hint);
  if (err instanceof UsageError) return withHint('USAGE', err.message, err.hint);
  if (isParseArgsError(err)) return withHint('USAGE', (err as Error).message, 'Run "slipway <command> --help" for its flags.');
  return undefined;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
