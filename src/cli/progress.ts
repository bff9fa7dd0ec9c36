import type { Output } from './output.js';

/**
 * A one-line spinner on stderr, only when stdout and stderr are terminals and not --json;
 * otherwise status changes are plain lines (CI logs stay readable) and --json prints none.
 */
export class Spinner {
  private frame = 0;
  private timer: NodeJS.Timeout | undefined;
  private text = '';
  private readonly live: boolean;

  constructor(private readonly out: Output) {
    this.live = out.tty && process.stderr.isTTY === true && !out.json;
  }

  start(text: string): void {
    this.text = text;
    if (!this.live) return this.out.note(text);
    // unref: a command that fails mid-spin still exits
    this.timer ??= setInterval(() => this.draw(), 80).unref();
    this.draw();
  }

  update(text: string): void {
    if (text === this.text) return;
    if (!this.live) this.out.note(text);
    this.text = text;
  }

  /** Print a line above the spinner (stdout: it is the command's output, e.g. a build log). */
  log(line: string): void {
    if (this.live) process.stderr.write('\r\x1b[2K');
    if (!this.out.json) process.stdout.write(`${line}\n`);
    if (this.live && this.timer !== undefined) this.draw();
  }

  stop(final?: string): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.live) process.stderr.write('\r\x1b[2K');
    if (final !== undefined) this.out.note(final);
  }

  private draw(): void {
    const frames = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';
    process.stderr.write(`\r\x1b[2K${this.out.cyan(frames[this.frame++ % frames.length]!)} ${this.text}`);
  }
}

/** A progress bar of bytes on stderr (terminal only; elsewhere silent, the caller prints a summary). */
export class ProgressBar {
  private done = 0;
  private last = 0;
  private readonly live: boolean;

  constructor(
    private readonly out: Output,
    private readonly total: number,
    private readonly label: string,
  ) {
    this.live = out.tty && process.stderr.isTTY === true && !out.json && total > 0;
  }

  add(bytes: number): void {
    this.done += bytes;
    const now = Date.now();
    // redraw at most every 50 ms: thousands of small files must not flood the terminal
    if (this.live && (now - this.last > 50 || this.done >= this.total)) {
      this.last = now;
      const width = 30;
      const ratio = Math.min(1, this.done / this.total);
      const filled = Math.round(ratio * width);
      process.stderr.write(`\r\x1b[2K${this.label} ${this.out.cyan('█'.repeat(filled))}${this.out.dim('░'.repeat(width - filled))} ${Math.floor(ratio * 100)}%`);
    }
  }

  stop(): void {
    if (this.live) process.stderr.write('\r\x1b[2K');
  }
}
