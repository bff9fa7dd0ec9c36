/** Per-project access logs of the edge and output of SSR servers: store, batching, drains. Other parts import only this file. */
export { createRequestObserver, fastEntry, type CacheOutcome, type ObservedRequest, type RequestObserver } from './recorder.js';
export { createLogWriter, type LogWriter, type LogWriterOptions } from './writer.js';
export { getDrain, maskDrainUrl, removeDrain, setDrain, startLogDrains, type DrainView } from './drain.js';
export {
  DEFAULT_KEEP_PER_PROJECT,
  insertAccessEntries,
  insertServerLines,
  readAccessEntries,
  readServerLines,
  trimProjectLogs,
  type AccessEntry,
  type ServerLine,
  type StoredAccessEntry,
  type StoredServerLine,
} from './store.js';
