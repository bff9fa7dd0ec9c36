import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';

/**
 * The folders of a package and of everything it depends on (dependencies and the optional ones
 * that are installed, such as esbuild's platform binary), as real paths, resolved the way Node
 * resolves them: from each package's folder upwards through the node_modules above it.
 * The build sandbox binds exactly these read-only, so OpenNext runs in there with its own code
 * and nothing else of Slipway's (no config, no other packages, nothing writable).
 * `await packageClosure('/opt/slipway/node_modules/@opennextjs/aws')`
 */
export async function packageClosure(packageDir: string): Promise<string[]> {
  const seen = new Set<string>();
  const queue = [await realpath(packageDir)];
  for (let dir = queue.pop(); dir !== undefined; dir = queue.pop()) {
    if (seen.has(dir)) continue;
    seen.add(dir);
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    const names = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})]);
    for (const name of names) {
      const found = await findPackage(dir, name);
      // an optional dependency for another platform is not installed; a missing required one fails at run time, loudly
      if (found !== undefined && !seen.has(found)) queue.push(found);
    }
  }
  return outermost([...seen]);
}

/** `name`'s folder as Node would find it from `fromDir`: the nearest node_modules/<name> above. */
async function findPackage(fromDir: string, name: string): Promise<string | undefined> {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    const info = await stat(join(candidate, 'package.json')).catch(() => undefined);
    if (info?.isFile() === true) return realpath(candidate);
    if (dirname(dir) === dir) return undefined;
  }
}

/** Drop folders that lie inside another one of the list (a package's own nested node_modules). */
function outermost(dirs: string[]): string[] {
  const sorted = [...dirs].sort();
  const kept: string[] = [];
  for (const dir of sorted) {
    if (!kept.some((k) => dir.startsWith(k + sep))) kept.push(dir);
  }
  return kept;
}
