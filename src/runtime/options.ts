import type { FileBlobStore } from '../blobs/index.js';
import type { ServerSandboxOptions } from './server-sandbox.js';

export interface RuntimeOptions {
  blobs: FileBlobStore;
  /** where bundles are materialized, one folder per deployment, e.g. `<data-dir>/runtime` */
  dir: string;
  /** where each deployment's writable folder is made (default `<dir>-data`, e.g. `<data-dir>/runtime-data`) */
  dataDir?: string | undefined;
  /** a bundle file's bytes do not match the manifest (changed blob): its server is not started; record it (e.g. in the store) */
  onIntegrityError?: ((deploymentId: string, reason: string) => void) | undefined;
  /** an unpinned deployment with no request for this long is stopped (default 15 min) */
  idleMs?: number;
  /** how long a server may take to answer its first HTTP request (default 30 s) */
  startTimeoutMs?: number;
  /** V8 heap limit per server process, `--max-old-space-size` (default: node's own) */
  memoryLimitMb?: number;
  /** time allowed until a response's headers arrive; then 504 (default 60 s) */
  requestTimeoutMs?: number;
  /** lifecycle events and failures the runtime survives (default: Slipway's log, see src/log) */
  log?: (message: string, error?: Error) => void;
  /**
   * Run servers in a bubblewrap sandbox (when it works here): these paths hidden (the platform's
   * data dir), the deployment's own folder writable, and the server dies with this process.
   */
  sandbox?: ServerSandboxOptions | undefined;
  /** every line a server prints */
  onOutput?: (deploymentId: string, line: string) => void;
  /**
   * the shared Node.js cache (see src/nodejs): a bundle that names its Node.js release runs on
   * that binary, fetched here first if this machine lacks it (default `<dir>/../node`)
   */
  nodeCacheDir?: string | undefined;
  /** how often the servers' resident memory is checked against their limits (default 1 s) */
  memoryCheckMs?: number;
  /**
   * Remove materialized bundles not used for `unusedMs` (by any process sharing `dir`) at
   * start-up and every `everyMs` (default: a 24th of unusedMs, at most an hour). Off by default.
   */
  collectBundles?: { unusedMs: number; everyMs?: number } | undefined;
}

/** One deployment's own limits; unset ones fall back to the runtime's options. */
export interface ServerLimitOverrides {
  memoryLimitMb?: number | undefined;
  requestTimeoutMs?: number | undefined;
  /** processes and threads; at most the sandbox's own `pids` (the operator's maximum) */
  pids?: number | undefined;
  /** CPU weight among the servers (default 1024; all servers together weigh one process per core) */
  cpuShares?: number | undefined;
}

export interface RuntimeStatus {
  deploymentId: string;
  pid: number | undefined;
  /** where the server listens: loopback, or its sandbox's own address */
  host: string | undefined;
  port: number | undefined;
  state: 'starting' | 'running' | 'draining' | 'restarting';
  inFlight: number;
  startedAt: number | undefined;
  lastRequestAt: number;
  pinned: boolean;
}
