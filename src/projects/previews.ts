import { AppError } from '../errors/index.js';
import type { Project } from '../store/index.js';

/** Which branches get previews: none given means every branch; exclude wins over include. */
export interface PreviewBranches {
  include?: string[];
  exclude?: string[];
}

/** When a webhook's push is not built: it touches none of `paths`, or `command` exits 0 (Vercel's "Ignored Build Step"). */
export type IgnoredBuildStep = { paths: string[] } | { command: string };

/** A project's preview settings, read from its row. */
export interface PreviewSettings {
  enabled: boolean;
  branches: PreviewBranches | null;
  ignoredBuildStep: IgnoredBuildStep | null;
  forks: boolean;
}

export function previewSettings(p: Pick<Project, 'previews_enabled' | 'preview_branches' | 'ignored_build_step' | 'fork_previews'>): PreviewSettings {
  return {
    enabled: p.previews_enabled !== 0,
    branches: p.preview_branches === null ? null : (JSON.parse(p.preview_branches) as PreviewBranches),
    ignoredBuildStep: p.ignored_build_step === null ? null : (JSON.parse(p.ignored_build_step) as IgnoredBuildStep),
    forks: p.fork_previews === 1,
  };
}

const MAX_PATTERNS = 50;

function bad(field: string, why: string, example: string): never {
  throw new AppError('VALIDATION', `${field} ${why}.`, { hint: `For example: "${field}": ${example}` });
}

function patterns(field: string, v: unknown, example: string): string[] {
  if (!Array.isArray(v) || v.length > MAX_PATTERNS || v.some((p) => typeof p !== 'string' || p.trim() === '' || p.length > 500 || p.includes('\0'))) {
    return bad(field, `must be a list of at most ${MAX_PATTERNS} non-empty patterns`, example);
  }
  return v.map((p: string) => p.trim());
}

const BRANCHES_EXAMPLE = '{"include": ["feature/*"], "exclude": ["dependabot/**"]}';
const STEP_EXAMPLE = '{"paths": ["apps/web", "packages/ui/**"]} or {"command": "git diff --quiet HEAD^ HEAD -- apps/web"}';

/** `previewBranches`: null unsets; `*` matches within one path segment, `**` across them. */
export function checkPreviewBranches(v: unknown): PreviewBranches | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) return bad('previewBranches', 'must be an object with "include" and/or "exclude"', BRANCHES_EXAMPLE);
  const out: PreviewBranches = {};
  for (const [key, value] of Object.entries(v)) {
    if (key !== 'include' && key !== 'exclude') return bad('previewBranches', `has an unknown field ${JSON.stringify(key)}`, BRANCHES_EXAMPLE);
    out[key] = patterns(`previewBranches.${key}`, value, '["feature/*"]');
  }
  return out;
}

/** `ignoredBuildStep`: exactly one of paths (folders or globs in the repository) or command. */
export function checkIgnoredBuildStep(v: unknown): IgnoredBuildStep | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) return bad('ignoredBuildStep', 'must be {"paths": [...]} or {"command": "..."}', STEP_EXAMPLE);
  const keys = Object.keys(v);
  const given = v as Record<string, unknown>;
  if (keys.length === 1 && keys[0] === 'paths') {
    const paths = patterns('ignoredBuildStep.paths', given.paths, '["apps/web"]').map((p) => p.replace(/^\.?\/+/, '').replace(/\/+$/, ''));
    if (paths.length === 0 || paths.some((p) => p === '' || p.split('/').includes('..')))
      return bad('ignoredBuildStep.paths', 'must name at least one path inside the repository, without ".."', '["apps/web"]');
    return { paths };
  }
  if (keys.length === 1 && keys[0] === 'command') {
    if (typeof given.command !== 'string' || given.command.trim() === '' || given.command.length > 1000)
      return bad('ignoredBuildStep.command', 'must be a shell command of at most 1000 characters', '"exit 1"');
    return { command: given.command };
  }
  return bad('ignoredBuildStep', 'must have exactly one of "paths" or "command"', STEP_EXAMPLE);
}

export function checkFlag(field: string, v: unknown, unset: boolean): boolean {
  if (v === undefined || v === null) return unset;
  if (typeof v !== 'boolean') return bad(field, 'must be true or false', String(!unset));
  return v;
}
