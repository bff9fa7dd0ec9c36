import type { Agent } from 'node:http';
import type { ServerBundle } from '../manifest/index.js';
import type { ServerLimitOverrides } from './options.js';
import type { ServerProcess } from './server-process.js';

/** One server process's life for one deployment; a drained deployment that is asked for again gets a new one. */
export interface Instance {
  deploymentId: string;
  bundle: ServerBundle;
  env: Record<string, string>;
  limits: ServerLimitOverrides;
  /** set when the runtime killed the process for using too much memory */
  killedFor: string | undefined;
  proc: ServerProcess | undefined;
  agent: Agent | undefined;
  starting: Promise<ServerProcess> | undefined;
  retiring: boolean;
  inFlight: number;
  lastRequestAt: number;
  /** when ensure last handed out the port: a proxy call may still be on its way */
  lastEnsureAt: number;
  crashes: number;
  restartTimer: NodeJS.Timeout | undefined;
}

/** after the last ensure, how long a drain still expects the matching proxy call */
export const SETTLE_MS = 100;
const MAX_BACKOFF_MS = 30_000;
/** a process that ran this long before crashing restarts without backoff */
const STABLE_MS = 30_000;

export function newInstance(deploymentId: string, bundle: ServerBundle, env: Record<string, string>, limits: ServerLimitOverrides): Instance {
  return {
    deploymentId,
    bundle,
    env,
    limits,
    killedFor: undefined,
    proc: undefined,
    agent: undefined,
    starting: undefined,
    retiring: false,
    inFlight: 0,
    lastRequestAt: Date.now(),
    lastEnsureAt: 0,
    crashes: 0,
    restartTimer: undefined,
  };
}

/** Count a crash after `ranMs` of running: a server that ran long enough starts its count again. */
export function countCrash(inst: Instance, ranMs: number): void {
  if (ranMs >= STABLE_MS) inst.crashes = 0;
  inst.crashes += 1;
}

/** How long to wait before the next restart: doubling from 100 ms with each crash in a row, at most 30 s. */
export function restartDelayMs(inst: Pick<Instance, 'crashes'>): number {
  return Math.min(100 * 2 ** Math.min(inst.crashes - 1, 20), MAX_BACKOFF_MS);
}
