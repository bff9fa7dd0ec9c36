export { collectGarbage, DEFAULT_GRACE_MS, type CollectionReport, type CollectOptions } from './collect.js';
export { fenceAfterSweep, fenceHolds, readFence, type Fence } from './fence.js';
export { planRemovals, type RemovedDeployment } from './plan.js';
export { DEFAULT_KEEP_DAYS, DEFAULT_KEEP_PRODUCTION, retentionOf, setRetention, type RetentionSettings } from './settings.js';
export { asDiskFull, diskHealth, diskSpace, watchDiskSpace, type DiskSpace } from './disk.js';
export { startCollector, type CollectorHandle } from './schedule.js';
