import { appendLogs } from '../deployments/index.js';
import { SecretMasker } from '../masking/index.js';
import type { Store } from '../store/index.js';
import { logger } from '../log/index.js';

const sinkLog = logger('worker');

/**
 * Collects build log lines and writes them to the store in small batches (every 100 ms or
 * 200 lines), masking secret values first so they never reach storage or a viewer.
 */
export class LogSink {
  private buffer: { text: string; at: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly masker: SecretMasker;

  constructor(
    private readonly store: Store,
    private readonly deploymentId: string,
    secrets: readonly string[] = [],
  ) {
    this.masker = new SecretMasker(secrets);
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
    this.writing = this.writing
      .then(() => appendLogs(this.store.db, this.deploymentId, lines))
      .catch((err: unknown) => {
        sinkLog.error({ err, deploymentId: this.deploymentId }, `could not store ${lines.length} build log lines`);
      });
    await this.writing;
  }

  private flushSoon(ms: number): void {
    if (this.timer !== undefined && ms > 0) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), ms);
  }

  /**
   * The text with every secret value, and every piece of 8 or more characters of one, replaced
   * by `***` (see src/masking). Build output arrives here already masked on its stream; this
   * covers every other line and message (server output, errors).
   */
  mask(text: string): string {
    return this.masker.mask(text);
  }
}
