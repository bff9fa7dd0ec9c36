import type { AccessEntry } from './store.js';

/** The longest values a row keeps (longer ones are cut, marked with an ellipsis). */
export const LIMITS = { method: 32, host: 255, path: 2048, clientIp: 64, text: 4096 } as const;

export const cut = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max)}…` : s);

/**
 * A project's access entries packed for postMessage to the log thread: the numbers in one
 * Float64Array (transferred, not copied) and the strings joined into one, with their lengths.
 * Cloning 2,000 entry objects cost about three times as much on the edge's event loop.
 */
export interface AccessColumns {
  projectId: string;
  count: number;
  /** per row: at, status, bytes, durationMs */
  numbers: Float64Array;
  /** per row: the lengths of deploymentId, method, host, path, clientIp in `text` */
  lengths: Uint32Array;
  text: string;
}

const NUMBERS = 4;
const STRINGS = 5;

export function packAccess(projectId: string, entries: readonly AccessEntry[]): AccessColumns {
  const count = entries.length;
  const numbers = new Float64Array(count * NUMBERS);
  const lengths = new Uint32Array(count * STRINGS);
  let text = '';
  for (let i = 0; i < count; i++) {
    const e = entries[i]!;
    let n = i * NUMBERS;
    numbers[n++] = e.at;
    numbers[n++] = e.status;
    numbers[n++] = e.bytes;
    numbers[n] = e.durationMs;
    // cut here already: a 100 KB path would otherwise travel to be cut there
    const method = cut(e.method, LIMITS.method);
    const host = cut(e.host, LIMITS.host);
    const path = cut(e.path, LIMITS.path);
    const clientIp = cut(e.clientIp, LIMITS.clientIp);
    let s = i * STRINGS;
    lengths[s++] = e.deploymentId.length;
    lengths[s++] = method.length;
    lengths[s++] = host.length;
    lengths[s++] = path.length;
    lengths[s] = clientIp.length;
    text += e.deploymentId + method + host + path + clientIp;
  }
  return { projectId, count, numbers, lengths, text };
}

/** The columns back as entries, in order (on the log thread). */
export function unpackAccess(c: AccessColumns): AccessEntry[] {
  const out: AccessEntry[] = new Array(c.count);
  let at = 0;
  const next = (len: number): string => c.text.slice(at, (at += len));
  for (let i = 0; i < c.count; i++) {
    const n = i * NUMBERS;
    const s = i * STRINGS;
    const deploymentId = next(c.lengths[s]!);
    const method = next(c.lengths[s + 1]!);
    const host = next(c.lengths[s + 2]!);
    const path = next(c.lengths[s + 3]!);
    const clientIp = next(c.lengths[s + 4]!);
    out[i] = { at: c.numbers[n]!, status: c.numbers[n + 1]!, bytes: c.numbers[n + 2]!, durationMs: c.numbers[n + 3]!, deploymentId, method, host, path, clientIp };
  }
  return out;
}
