import type { BuildLimits } from './types.js';

/** A build's sandbox limits unless the operator or the project says otherwise. */
export const DEFAULT_BUILD_LIMITS: Readonly<BuildLimits> = Object.freeze({ memoryMb: 4096, pids: 4096, cpuShares: 512, tmpMb: 1024 });
