import { statfs } from 'node:fs/promises';
import { AppError } from '../errors/index.js';

/** Warn below this much free space on the data dir's disk (or 5 % of it, whichever is less). */
export const LOW_DISK_BYTES = 2 * 1024 ** 3;

export interface DiskSpace {
  path: string;
  freeBytes: number;
  totalBytes: number;
  /** free space is under LOW_DISK_BYTES (or 5 % of a small disk) */
  low: boolean;
}

/** The free space of the file system holding `dir`, as an unprivileged process may use it; `lowBytes`: the warning's threshold (default: see LOW_DISK_BYTES). */
export async function diskSpace(dir: string, lowBytes?: number): Promise<DiskSpace> {
  const fs = await statfs(dir);
  const freeBytes = fs.bavail * fs.bsize;
  const totalBytes = fs.blocks * fs.bsize;
  return { path: dir, freeBytes, totalBytes, low: freeBytes < (lowBytes ?? Math.min(LOW_DISK_BYTES, totalBytes * 0.05)) };
}

/**
 * Checks the data dir's disk every `everyMs` and logs a warning when it runs low (once, and
 * again once it recovered and ran low again); `latest()` is the last check, for /healthz.
 */
export function watchDiskSpace(
  dir: string,
  log: (line: string) => void,
  opts: { everyMs?: number; lowBytes?: number } = {},
): { latest(): DiskSpace | undefined; check(): Promise<DiskSpace | undefined>; stop(): void } {
  let latest: DiskSpace | undefined;
  let warned = false;
  const check = async () => {
    latest = await diskSpace(dir, opts.lowBytes).catch(() => latest);
    if (latest?.low === true && !warned) {
      log(
        `Warning: the data dir ${dir} has only ${formatGiB(latest.freeBytes)} free of ${formatGiB(latest.totalBytes)}; builds fail when it fills. Run "slipway gc" or lower the projects' retention.`,
      );
    }
    warned = latest?.low === true;
    return latest;
  };
  void check();
  const timer = setInterval(() => void check(), opts.everyMs ?? 60_000);
  timer.unref();
  return { latest: () => latest, check, stop: () => clearInterval(timer) };
}

/** The data dir's disk as /healthz shows it: `status` is "low" when builds may soon fail for space. */
export function diskHealth(space: DiskSpace | undefined): { status: 'ok' | 'low' | 'unknown'; path?: string; freeBytes?: number; totalBytes?: number; warning?: string } {
  if (space === undefined) return { status: 'unknown' };
  const shown = { path: space.path, freeBytes: space.freeBytes, totalBytes: space.totalBytes };
  if (!space.low) return { status: 'ok', ...shown };
  return { status: 'low', ...shown, warning: `only ${formatGiB(space.freeBytes)} free: builds fail when the disk fills; run "slipway gc" or lower the projects' retention` };
}

function formatGiB(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/**
 * A build step that hit a full disk (ENOSPC from Slipway's own writes: the checkout, blobs, the
 * build folder) as the catalogued DISK_FULL error; anything else: undefined.
 */
export function asDiskFull(err: unknown): AppError | undefined {
  if (err instanceof AppError) return undefined;
  const e = err as NodeJS.ErrnoException | undefined;
  const text = `${e?.code ?? ''} ${e?.message ?? ''}`;
  if (e?.code !== 'ENOSPC' && !/\bENOSPC\b|no space left on device/i.test(text)) return undefined;
  return new AppError('DISK_FULL', `The disk ran out of space while building (${e?.message ?? 'ENOSPC'}); the sites already deployed keep being served.`, { cause: err });
}
