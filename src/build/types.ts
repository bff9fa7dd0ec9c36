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
  /** a folder the build may read and write for package-manager caches (npm, corepack, pnpm, yarn), shared across builds */
  cacheDir: string;
  /** paths the build must not be able to read (data dir, keys); hidden when a sandbox is available */
  hiddenPaths: string[];
  /** false: never use the bwrap sandbox (tests, or a machine where it misbehaves); default: use it when it works */
  sandbox?: boolean | undefined;
}

export interface BuildResult {
  /** absolute path of the folder to package */
  outputDir: string;
  packageManager: 'npm' | 'pnpm' | 'yarn' | 'none';
  installMs: number;
  buildMs: number;
  /** the output is the project's root directory itself (a plain HTML site): packaging should skip node_modules */
  outputIsRoot?: boolean;
}
