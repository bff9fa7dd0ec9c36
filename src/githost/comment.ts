import type { Config } from '../config/index.js';
import { environmentUrl, logUrl, type ReportedDeployment, type Step } from './plan.js';

/** The hidden line that finds Slipway's comment on a pull request again when its id was lost. */
export function commentMarker(projectName: string): string {
  return `<!-- slipway:${projectName} -->`;
}

const LABEL: Record<Step, string> = {
  queued: '⏳ Queued',
  in_progress: '🔨 Building',
  awaiting: '✋ Waiting for approval',
  success: '✅ Ready',
  failure: '❌ Failed',
  error: '🚫 Canceled',
  inactive: '💤 Closed: the preview was removed',
};

/**
 * The one comment per pull request and project: the preview URL and the newest deployment's
 * status, rewritten in place on every push.
 */
export function commentBody(config: Config, projectName: string, d: ReportedDeployment, step: Step, now = Date.now()): string {
  const preview = environmentUrl(config, projectName, d);
  const updated = new Date(now).toISOString().replace('T', ' ').slice(0, 16);
  const visit = step === 'success' ? `[${preview}](${preview})` : step === 'inactive' ? '—' : `${preview} (once ready)`;
  return [
    commentMarker(projectName),
    `**Slipway** preview of \`${projectName}\``,
    '',
    '| Project | Status | Preview | Commit | Updated (UTC) |',
    '| --- | --- | --- | --- | --- |',
    `| ${projectName} | ${LABEL[step]} ([log](${logUrl(config, projectName, d)})) | ${visit} | \`${d.commit_sha.slice(0, 7)}\` | ${updated} |`,
    '',
  ].join('\n');
}
