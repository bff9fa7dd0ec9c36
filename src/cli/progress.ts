/** A one-line spinner on a terminal; plain lines when output is piped (CI logs stay readable). */
export class Spinner {
  private frame = 0;
  private timer: NodeJS.Timeout | undefined;
  private text = '';
  private readonly tty = process.stderr.isTTY === true;

  start(text: string): void {
    this.text = text;
    if (!this.tty) {
      process.stderr.write(`${text}\n`);
      return;
    }
    this.timer ??= setInterval(() => this.draw(), 80);
    this.draw();
  }

  update(text: string): void {
    if (text === this.text) return;
    if (!this.tty) process.stderr.write(`${text}\n`);
    this.text = text;
  }

  /** Print a line above the spinner. */
  log(line: string): void {
    if (this.tty) process.stderr.write('\r\x1b[2K');
    process.stdout.write(`${line}\n`);
    if (this.tty && this.timer !== undefined) this.draw();
  }

  stop(final?: string): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.tty) process.stderr.write('\r\x1b[2K');
    if (final !== undefined) process.stderr.write(`${final}\n`);
  }

  private draw(): void {
    const frames = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';
    process.stderr.write(`\r\x1b[2K${frames[this.frame++ % frames.length]} ${this.text}`);
  }
}
