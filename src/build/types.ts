import type { ImmutableRule } from '../manifest/index.js';
import type { SharedBuildCache } from './cache-share.js';

/** Per-project overrides; anything unset is detected from the repository. */
export interface BuildSettings {
  /** sub-folder of the repository that holds the site (monorepos), e.g. "apps/web" */
  rootDirectory?: string | undefined;
  installCommand?: string | undefined;
  buildCommand?: string | undefined;
  /** relative to rootDirectory */
  outputDirectory?: string | undefined;
}

export type LogFn = (line: string) => void;

export interface BuildRequest {
  /** checked-out source; the build may write inside it */
  sourceDir: string;
  settings: BuildSettings;
  /** the whole environment the build sees (PATH, HOME etc. are added by the build) */
  env: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal;
  log: LogFn;
  /**
   * a folder the build may read and write for package-manager caches (npm, corepack, pnpm, yarn):
   * one per project, e.g. `<data-dir>/pm-cache/<project-id>`; a folder shared by two projects
   * would let one plant a package manager or a package that the other's build runs
   */
  cacheDir: string;
  /** paths the build must not be able to read (data dir, keys); hidden when a sandbox is available */
  hiddenPaths: string[];
  /** false: never use the bwrap sandbox (tests, or a machine where it misbehaves); default: use it when it works */
  sandbox?: boolean | undefined;
  /** the sandbox's limits (enforced where Slipway runs as root); defaults in DEFAULT_BUILD_LIMITS */
  limits?: Partial<BuildLimits> | undefined;
  /** private-range destinations the build may reach anyway ("10.0.0.5:5432") */
  allow?: readonly string[] | undefined;
  /** the build folder's size cap, MiB, when it has one (see createWorkspace): a full folder is named as the reason */
  diskLimitMb?: number | undefined;
  /** where the build's HOME and TMPDIR are made (inside the size-capped build folder); default the OS temp dir */
  scratchDir?: string | undefined;
  /** the project's build cache (node_modules per dependency key, framework caches); none: every build installs afresh */
  cache?: BuildCacheOptions | undefined;
  /** run on the Node.js the project asks for (see src/nodejs), from this shared cache; none: the node running Slipway */
  node?: { cacheDir: string; setting?: string | undefined } | undefined;
  /** a shell command run before the install with the commit checked out; exit 0: skip this build (BUILD_SKIPPED) */
  ignoreCommand?: string | undefined;
  /**
   * runs instead of the build command, in the sandbox like it (OpenNext's build, which runs the
   * project's build script itself); `readOnly`: folders of Slipway's own it needs, bound read-only
   */
  buildStep?: { label: string; argv: string[]; readOnly: string[] } | undefined;
}

export interface BuildLimits {
  memoryMb: number;
  /** processes and threads */
  pids: number;
  cpuShares: number;
  /** the private /tmp */
  tmpMb: number;
}

/**
 * A per-project cache folder, shared by that project's builds and never by two projects, e.g.
 * `<data-dir>/project-cache/<project-id>`. Keep it off the shared `cacheDir` so builds of other
 * projects cannot reach it; the build itself never sees it (restore and save run outside the sandbox).
 */
export interface BuildCacheOptions {
  dir: string;
  /** mixed into the dependency key: change it to start afresh (e.g. "redeploy without cache") */
  key?: string | undefined;
  /** size cap of the whole folder, default 2 GiB */
  maxBytes?: number | undefined;
  /** dependency entries (lockfile versions) kept, default 3 */
  maxEntries?: number | undefined;
  /** entries other workers saved, through the blob store (createSharedBuildCache); none: this machine's only */
  shared?: SharedBuildCache | undefined;
}

export interface BuildCacheReport {
  /** disabled: no cache given, or nothing cacheable (no lockfile, yarn 2+, install skipped) */
  dependencies: 'hit' | 'miss' | 'disabled';
  /** the dependency key (sha256 hex) */
  key?: string | undefined;
  restoreMs?: number | undefined;
  saveMs?: number | undefined;
  /** hit: restored before the build; miss: none saved yet, this build's saved; none: the build makes none */
  frameworkCache?: 'hit' | 'miss' | 'none' | undefined;
}

/** A server-rendered build: what the runtime starts. */
export interface ServerBuild {
  kind: string;
  /** absolute folder to package as the server bundle */
  bundleDir: string;
  /** the script node runs, relative to bundleDir: the server module, or the real file behind a node_modules/.bin tool */
  entry: string;
  /** what node gets after the entry, e.g. ["build/server/index.js"] for react-router-serve */
  args: string[];
  /** argv that starts the server from the project root, as the framework documents it */
  start: string[];
}

export interface BuildResult {
  /** absolute path of the folder to package */
  outputDir: string;
  packageManager: 'npm' | 'pnpm' | 'yarn' | 'bun' | 'none';
  /** the exact version that ran ("9.15.9"); undefined without a package.json */
  packageManagerVersion?: string | undefined;
  /** why that manager and version: "pnpm 9 from pnpm-lock.yaml lockfileVersion 9.0" */
  packageManagerReason?: string | undefined;
  installMs: number;
  buildMs: number;
  /** the output is the project's root directory itself (a plain HTML site): packaging should skip node_modules */
  outputIsRoot?: boolean;
  /** whether the build cache saved the install */
  cache: BuildCacheReport;
  /** the framework detected, and why */
  framework: { id: string; name: string; reason: string; variant?: string | undefined; immutable?: ImmutableRule[] | undefined };
  /** present for server-rendered builds */
  server?: ServerBuild | undefined;
  /** the Node.js the install and build ran on, and why (absent: the node running Slipway, none asked for) */
  node?: { version: string; reason: string; fetchMs: number } | undefined;
}
