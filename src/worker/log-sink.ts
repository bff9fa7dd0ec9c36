import { appendLogs } from '../deployments/index.js';
import type { Store } from '../store/index.js';

/**
 * Collects build log lines and writes them to the store in small batches (every 100 ms or
 * 200 lines), masking secret values first so they never reach storage or a viewer.
 */
export class LogSink {
  private buffer: { text: string; at: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly secrets: string[];

  constructor(
    private readonly store: Store,
    private readonly deploymentId: string,
    secrets: readonly string[] = [],
  ) {
    // a multi-line value (a PEM key) is printed a line at a time: mask each of its lines too;
    // values shorter than 4 characters would mask common words, so they are left alone.
    // Longest first, so a secret that contains another is masked whole.
    const parts = secrets.flatMap((s) => [s, ...s.split(/\r?\n/).map((l) => l.trim())]);
    this.secrets = [...new Set(parts.filter((s) => s.length >= 4))].sort((a, b) => b.length - a.length);
  }

  readonly line = (text: string): void => {
    this.buffer.push({ text: this.mask(text), at: Date.now() });
    if (this.buffer.length >= 200) this.flushSoon(0);
    else this.flushSoon(100);
  };

  /** Write everything buffered; resolves when it is stored. */
  async flush(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const lines = this.buffer;
    this.buffer = [];
    this.writing = this.writing.then(() => appendLogs(this.store.db, this.deploymentId, lines)).catch((err: unknown) => {
      console.error(`[worker] could not store ${lines.length} log lines of ${this.deploymentId}:`, err);
    });
    await this.writing;
  }

  private flushSoon(ms: number): void {
    if (this.timer !== undefined && ms > 0) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), ms);
  }

  /**
   * The text with every secret value replaced by `***`. The build's output reader cuts lines
   * longer than 4096 characters into pieces, so a value may also arrive split across two
   * lines: a line that begins with the end of a value, or ends with its beginning (8 characters
   * or more), has that part masked too.
   */
  mask(text: string): string {
    let out = text;
    for (const s of this.secrets) {
      if (out.includes(s)) out = out.split(s).join('***');
      if (s.length > EDGE && out.length >= EDGE) out = maskEdges(out, s);
    }
    return out;
  }
}

/** the shortest piece of a split value that is masked */
const EDGE = 8;
/** what the build's output reader (src/build/run.ts) appends to a line it cut */
const CUT_NOTE = / \[line cut at \d+ characters\]$/;

function maskEdges(line: string, secret: string): string {
  let out = line;
  // the line starts with a suffix of the secret
  const head = out.slice(0, EDGE);
  for (let p = secret.indexOf(head, 1); p !== -1; p = secret.indexOf(head, p + 1)) {
    const suffix = secret.slice(p);
    if (out.startsWith(suffix)) {
      out = `***${out.slice(suffix.length)}`;
      break;
    }
  }
  if (out.length < EDGE) return out;
  // the line ends with a prefix of the secret, or did before the build's reader cut it
  const cut = CUT_NOTE.exec(out);
  if (cut !== null) return `${maskEdges(out.slice(0, cut.index), secret)}${cut[0]}`;
  const tail = out.slice(-EDGE);
  for (let p = secret.lastIndexOf(tail, secret.length - EDGE - 1); p !== -1; p = p === 0 ? -1 : secret.lastIndexOf(tail, p - 1)) {
    const prefix = secret.slice(0, p + EDGE);
    if (out.endsWith(prefix)) {
      out = `${out.slice(0, out.length - prefix.length)}***`;
      break;
    }
  }
  return out;
}
