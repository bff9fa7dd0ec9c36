export { collectGarbage, DEFAULT_GRACE_MS, type CollectionReport, type CollectOptions } from './collect.js';
export { fenceAfterSweep, fenceHolds, readFence, type Fence } from './fence.js';
export { planRemovals, type RemovedDeployment } from './plan.js';
export { DEFAULT_KEEP_DAYS, DEFAULT_KEEP_PRODUCTION, retentionOf, setRetention, type RetentionSettings } from './settings.js';
export { asDiskFull, diskSpace, watchDiskSpace, type DiskSpace } from './disk.js';
