/**
 * Masking of secret values in output that project code writes (build logs, server output).
 *
 * The guarantee: no piece of 8 characters or more of a value appears in what comes out,
 * whatever the chunk boundaries and line lengths, so masking must run on the raw decoded stream
 * before anything cuts or joins it. Every 8-character window of a value is looked for, not only
 * the whole value: a value printed in pieces, or cut by a line limit, is still masked piece by
 * piece. Values of 4 to 7 characters are masked where they appear whole; shorter ones would mask
 * common words and are left alone.
 *
 * A value is split at its line breaks (a PEM key is printed a line at a time) and no window
 * spans a line break, so a stream can release everything up to its last line break at once and
 * holds back at most 7 characters of an unfinished line.
 *
 * `const m = new SecretMasker([token]); const s = m.stream(); out(s.write(a)); out(s.write(b)); out(s.end())`
 */

import { StringDecoder } from 'node:string_decoder';

export const MASK = '***';
/** the shortest piece of a value that is guaranteed never to come out */
export const PIECE = 8;
/** values shorter than this are not masked at all */
export const MIN_VALUE = 4;

const LINE_BREAK = /\r\n|\r|\n/;

export class SecretMasker {
  /** every PIECE-character window of every value line of PIECE or more characters */
  private readonly windows = new Set<string>();
  /** the first two char codes of each window: a cheap test before the Set lookup */
  private readonly starts = new Set<number>();
  /** value lines of MIN_VALUE..PIECE-1 characters, masked whole, longest first */
  private readonly short: string[];
  /** how many characters of an unfinished line a stream must hold back */
  readonly holdBack: number;

  constructor(values: Iterable<string>) {
    const short = new Set<string>();
    for (const value of values) {
      for (const raw of value.split(LINE_BREAK)) {
        const line = raw.trim();
        if (line.length >= PIECE) {
          for (let i = 0; i + PIECE <= line.length; i += 1) {
            const w = line.slice(i, i + PIECE);
            // a run of blanks inside a value says nothing about it, and would mask indentation
            if (w.trim() === '') continue;
            this.windows.add(w);
            this.starts.add(pairAt(w, 0));
          }
        } else if (line.length >= MIN_VALUE) short.add(line);
      }
    }
    this.short = [...short].sort((a, b) => b.length - a.length);
    const longestShort = this.short[0]?.length ?? 0;
    this.holdBack = this.windows.size > 0 ? PIECE - 1 : Math.max(0, longestShort - 1);
  }

  /** true when there is nothing to mask (streams then pass text through untouched) */
  get empty(): boolean {
    return this.windows.size === 0 && this.short.length === 0;
  }

  /** `text` with every value, and every piece of PIECE or more characters of one, replaced by MASK */
  mask(text: string): string {
    if (this.empty) return text;
    const s = this.stream();
    return s.write(text) + s.end();
  }

  /** A masking stream: feed decoded text in, get masked text out (possibly a little later). */
  stream(): MaskStream {
    return new MaskStream(this);
  }

  /**
   * Mark the characters of `text` that belong to a masked piece, for every match that starts
   * before `until` (matches starting later are found on a later call, with more text).
   */
  markMatches(text: string, until: number, marks: Uint8Array): void {
    if (this.windows.size > 0) {
      const last = Math.min(until, text.length - PIECE + 1);
      for (let i = 0; i < last; i += 1) {
        if (!this.starts.has(pairAt(text, i))) continue;
        if (this.windows.has(text.slice(i, i + PIECE))) marks.fill(1, i, i + PIECE);
      }
    }
    for (const s of this.short) {
      for (let i = text.indexOf(s); i !== -1 && i < until; i = text.indexOf(s, i + 1)) marks.fill(1, i, i + s.length);
    }
  }
}

function pairAt(text: string, i: number): number {
  return text.charCodeAt(i) * 65536 + text.charCodeAt(i + 1);
}

/**
 * One stream's state: the characters not yet released (never more than the masker's holdBack
 * after a write, and never a line break), how many of them a match already covers, and
 * whether the text released last ended inside a masked run (so a run split by a chunk boundary
 * comes out as one MASK).
 */
export class MaskStream {
  private pending = '';
  private carried = 0;
  private inMask = false;

  constructor(private readonly masker: SecretMasker) {}

  /** Masked text that is final now; keeps back what a later chunk could still make part of a value. */
  write(text: string): string {
    if (this.masker.empty) return text;
    const buf = this.pending + text;
    // nothing matches across a line break, so everything up to the last one is decided
    let lastBreak = -1;
    for (let i = buf.length - 1; i >= 0 && i >= buf.length - this.masker.holdBack - 1; i -= 1) {
      const c = buf.charCodeAt(i);
      if (c === 10 || c === 13) {
        lastBreak = i;
        break;
      }
    }
    const decided = Math.max(buf.length - this.masker.holdBack, lastBreak + 1, 0);
    return this.release(buf, decided);
  }

  /** Everything still held, masked. The stream can be written to again afterwards. */
  end(): string {
    if (this.masker.empty) return '';
    const out = this.release(this.pending, this.pending.length);
    this.inMask = false;
    return out;
  }

  private release(buf: string, decided: number): string {
    const marks = new Uint8Array(buf.length);
    marks.fill(1, 0, this.carried);
    this.masker.markMatches(buf, decided, marks);
    let out = '';
    let from = 0;
    for (let i = 0; i < decided; i += 1) {
      if (marks[i] === 0) {
        this.inMask = false;
        continue;
      }
      out += buf.slice(from, i);
      if (!this.inMask) out += MASK;
      this.inMask = true;
      from = i + 1;
    }
    out += buf.slice(from, decided);
    // matches starting before `decided` may reach into what is held: they cover a prefix of it
    let carried = 0;
    while (decided + carried < buf.length && marks[decided + carried] === 1) carried += 1;
    this.carried = carried;
    this.pending = buf.slice(decided);
    return out;
  }
}

/**
 * Read a byte stream as masked lines (split on \n, \r\n or \r, as readline does): decoded,
 * masked, then split, so a consumer that cuts long lines cannot cut a value out of the masking.
 * `readMaskedLines(child.stdout, masker, (line) => keep(line.slice(0, 2000)))`
 */
export function readMaskedLines(stream: NodeJS.ReadableStream, masker: SecretMasker, onLine: (line: string) => void): void {
  const decoder = new StringDecoder('utf8');
  const masked = masker.stream();
  let pending = '';
  const feed = (text: string) => {
    pending += text;
    // a \r at the very end waits: the \n of a \r\n may come in the next chunk
    const breaks = /\r\n|\r(?=[^\n])|\n/g;
    let start = 0;
    for (let m = breaks.exec(pending); m !== null; m = breaks.exec(pending)) {
      onLine(pending.slice(start, m.index));
      start = m.index + m[0].length;
    }
    pending = pending.slice(start);
  };
  stream.on('data', (chunk: Buffer) => feed(masked.write(decoder.write(chunk))));
  stream.on('end', () => {
    feed(masked.write(decoder.end()) + masked.end());
    const last = pending.endsWith('\r') ? pending.slice(0, -1) : pending;
    if (last !== '' || pending !== '') onLine(last);
    pending = '';
  });
}
