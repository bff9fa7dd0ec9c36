import { readdir } from 'node:fs/promises';
import { readFileBeneath, resolveBeneath } from '../beneath/index.js';
import type { ExecFn } from './manager-setup.js';
import type { ManagerChoice } from './package-manager.js';

/**
 * Dependencies whose install scripts the package manager left unrun, each with why, so that no
 * skipped script is dropped silently. The managers decide by the repository's own allow-list
 * (pnpm's onlyBuiltDependencies, npm's allowScripts); this reads what they did from the files
 * the install left, never following a link out of `rootDir`.
 * `await skippedInstallScripts(rootDir, choice, pkg)` -> ["Skipped install script of esbuild@0.25.0 (not in pnpm.onlyBuiltDependencies)"]
 */
export async function skippedInstallScripts(rootDir: string, choice: ManagerChoice, exact: string, pkg: Record<string, unknown>, exec: ExecFn): Promise<string[]> {
  try {
    if (choice.name === 'bun') {
      // bun keeps no record of what it blocked; its own report lists the packages
      const lines: string[] = [];
      const { code } = await exec('bun pm untrusted', ['bun', 'pm', 'untrusted'], { capture: lines });
      return code === 0 ? bunUntrusted(lines) : [];
    }
    if (choice.name === 'pnpm') return await pnpmSkipped(rootDir, Number(exact.split('.')[0]), pkg);
    if (choice.name === 'npm') return await npmSkipped(rootDir, pkg);
  } catch {
    // a report, not a step: an unreadable file costs the report, never the build
  }
  return [];
}

async function pnpmSkipped(rootDir: string, major: number, pkg: Record<string, unknown>): Promise<string[]> {
  const pnpmField = isRecord(pkg.pnpm) ? pkg.pnpm : {};
  const inPackageJson = Array.isArray(pnpmField.onlyBuiltDependencies);
  const workspace = (await readFileBeneath(rootDir, 'pnpm-workspace.yaml'))?.toString('utf8') ?? '';
  const inWorkspace = /^(onlyBuiltDependencies|allowBuilds)\s*:/m.test(workspace);
  const where = inPackageJson ? 'pnpm.onlyBuiltDependencies' : inWorkspace ? 'onlyBuiltDependencies of pnpm-workspace.yaml' : undefined;
  const why = where !== undefined ? `not in ${where}` : `pnpm ${major} runs a dependency's build script only when pnpm.onlyBuiltDependencies names it`;

  if (major >= 10) {
    // pnpm 10+ records what it left unbuilt in node_modules/.modules.yaml (written as JSON)
    const text = (await readFileBeneath(rootDir, 'node_modules/.modules.yaml'))?.toString('utf8') ?? '';
    return modulesYamlIgnored(text).map((name) => `Skipped install script of ${name} (${why})`);
  }
  // pnpm 9 and older skip quietly, and only when an allow-list exists: find the unlisted packages with scripts
  if (!inPackageJson) return [];
  const allowed = new Set((pnpmField.onlyBuiltDependencies as unknown[]).map(String));
  const store = await resolveBeneath(rootDir, 'node_modules/.pnpm', { follow: false });
  if (store.kind !== 'dir') return [];
  const skipped: string[] = [];
  for (const entry of (await readdir(store.path)).sort()) {
    // "name@1.0.0", "@scope+name@1.0.0", "name@1.0.0_peer@2.0.0"
    const at = entry.indexOf('@', entry.startsWith('@') ? 1 : 0);
    if (at <= 0) continue;
    const name = entry.slice(0, at).replace('+', '/');
    if (allowed.has(name)) continue;
    const manifest = await readJson(rootDir, `node_modules/.pnpm/${entry}/node_modules/${name}/package.json`);
    if (manifest !== undefined && hasInstallScript(manifest)) skipped.push(`Skipped install script of ${name}@${String(manifest.version)} (${why})`);
  }
  return skipped;
}

/** The `ignoredBuilds` list of pnpm's .modules.yaml: JSON as pnpm writes it, or YAML's "- name" lines. */
export function modulesYamlIgnored(text: string): string[] {
  try {
    const value = JSON.parse(text) as { ignoredBuilds?: unknown };
    return Array.isArray(value.ignoredBuilds) ? value.ignoredBuilds.map(String) : [];
  } catch {
    const block = /^ignoredBuilds:\s*\n((?:\s+- .*\n?)*)/m.exec(text)?.[1] ?? '';
    return [...block.matchAll(/- ['"]?([^'"\n]+?)['"]?\s*$/gm)].map((m) => m[1] as string);
  }
}

/** `bun pm untrusted` lists each blocked package as "./node_modules/<name> @<version>". */
export function bunUntrusted(lines: string[]): string[] {
  const skipped: string[] = [];
  for (const line of lines) {
    const m = /^\.\/node_modules\/(\S+) @(\S+)$/.exec(line.trim());
    if (m !== null) skipped.push(`Skipped install script of ${m[1] as string}@${m[2] as string} (not in trustedDependencies)`);
  }
  return skipped;
}

/**
 * npm 11 runs a dependency's install script unless package.json's allowScripts denies it
 * (`"pkg": false`, or `"pkg@1.2.3": false`); a denied one is skipped without a word. The install's
 * hidden lockfile says which packages have such scripts.
 */
async function npmSkipped(rootDir: string, pkg: Record<string, unknown>): Promise<string[]> {
  const allow = isRecord(pkg.allowScripts) ? pkg.allowScripts : undefined;
  if (allow === undefined) return [];
  const lock = (await readJson(rootDir, 'node_modules/.package-lock.json')) ?? (await readJson(rootDir, 'package-lock.json'));
  const packages = lock !== undefined && isRecord(lock.packages) ? lock.packages : {};
  const skipped = new Set<string>();
  for (const [path, info] of Object.entries(packages)) {
    if (!isRecord(info) || info.hasInstallScript !== true) continue;
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const version = String(info.version);
    if (allow[name] === false || allow[`${name}@${version}`] === false) skipped.add(`Skipped install script of ${name}@${version} (denied in allowScripts)`);
  }
  return [...skipped];
}

function hasInstallScript(manifest: Record<string, unknown>): boolean {
  const scripts = isRecord(manifest.scripts) ? manifest.scripts : {};
  return ['preinstall', 'install', 'postinstall'].some((s) => typeof scripts[s] === 'string' && scripts[s] !== '') || manifest.gypfile === true;
}

async function readJson(rootDir: string, rel: string): Promise<Record<string, unknown> | undefined> {
  const bytes = await readFileBeneath(rootDir, rel);
  if (bytes === undefined) return undefined;
  try {
    const value = JSON.parse(bytes.toString('utf8')) as unknown;
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
