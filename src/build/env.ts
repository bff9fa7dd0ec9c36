import { delimiter, dirname, join } from 'node:path';

const SYSTEM_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * Machine settings a build needs to reach the registry (CA bundles, proxies). Copied from the
 * platform's environment by name; everything else there (SLIPWAY_*, tokens, DATABASE_URL) stays out.
 */
const MACHINE_SETTINGS = ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy', 'COREPACK_NPM_REGISTRY'];

export interface BuildDirs {
  /** the project's root directory inside the checkout */
  rootDir: string;
  /** per-build HOME and TMPDIR, removed after the build */
  home: string;
  tmp: string;
  /** shared package-manager caches */
  cacheDir: string;
  /** folders before the host node's own on PATH: the project's Node.js and its npm shims */
  nodeBin?: string[] | undefined;
  /** the chosen package manager's shims, after the project's own binaries */
  binDir?: string | undefined;
}

/**
 * The whole environment of a build command: the project's own variables over a minimal base.
 * `buildEnv({ NODE_ENV: 'production' }, dirs, 'npm')`
 */
export function buildEnv(projectEnv: Record<string, string>, dirs: BuildDirs, packageManager: string): Record<string, string> {
  const base: Record<string, string> = {
    // project binaries first (so a custom buildCommand can say `vite build`), then node's own dir
    PATH: [...new Set([join(dirs.rootDir, 'node_modules', '.bin'), ...(dirs.nodeBin ?? []), ...(dirs.binDir === undefined ? [] : [dirs.binDir]), dirname(process.execPath), ...SYSTEM_PATH])].join(
      delimiter,
    ),
    HOME: dirs.home,
    TMPDIR: dirs.tmp,
    LANG: 'C.UTF-8',
    CI: '1',
    npm_config_cache: join(dirs.cacheDir, 'npm'),
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    COREPACK_HOME: join(dirs.cacheDir, 'corepack'),
    COREPACK_ENABLE_DOWNLOAD_PROMPT: '0',
    COREPACK_ENABLE_AUTO_PIN: '0',
    // pnpm reads npm_config_* too, but npm itself warns about a key it does not know
    ...(packageManager === 'pnpm' ? { npm_config_store_dir: join(dirs.cacheDir, 'pnpm-store') } : {}),
    YARN_CACHE_FOLDER: join(dirs.cacheDir, 'yarn'),
    YARN_GLOBAL_FOLDER: join(dirs.cacheDir, 'yarn-berry'),
    YARN_ENABLE_TELEMETRY: '0',
    BUN_INSTALL_CACHE_DIR: join(dirs.cacheDir, 'bun'),
  };
  for (const name of MACHINE_SETTINGS) {
    const value = process.env[name];
    if (value !== undefined) base[name] = value;
  }
  return { ...base, ...projectEnv };
}
