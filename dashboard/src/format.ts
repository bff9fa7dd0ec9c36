import type { Deployment } from './types';

/** "3 min ago", "2 h ago", or a date for older times. */
export function ago(iso: string | null, now = Date.now()): string {
  if (iso === null) return '—';
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  if (s < 86400 * 7) return `${Math.round(s / 86400)} d ago`;
  return new Date(iso).toLocaleDateString();
}

/** 850 ms, 12.3 s, 2 min 5 s */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** How long the build took (or has taken so far). */
export function deploymentDuration(d: Deployment, now = Date.now()): number | null {
  if (d.timings?.totalMs !== undefined) return d.timings.totalMs;
  const start = d.startedAt === null ? null : Date.parse(d.startedAt);
  if (start === null) return null;
  const end = d.finishedAt === null ? now : Date.parse(d.finishedAt);
  return end - start;
}

export const shortSha = (sha: string) => sha.slice(0, 7);

/** The first line of a commit message. */
export const firstLine = (s: string | null) => (s ?? '').split('\n')[0] ?? '';

export function cacheLabel(d: Deployment): string {
  const dep = d.build?.cache?.dependencies;
  if (dep === 'hit') return 'cache hit';
  if (dep === 'miss') return 'cache miss';
  return '';
}
