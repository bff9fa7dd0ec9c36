import { EventEmitter } from 'node:events';

/**
 * In-process notifications between roles of one process: the api tells the worker a job is
 * waiting (so it need not wait for its next poll) and tells the edge an alias moved (so it
 * drops cached routes at once). Other processes learn the same from the store by polling.
 */
export interface SlipwayEvents {
  'job-enqueued': [];
  'alias-moved': [{ projectId: string; alias: string; deploymentId: string }];
}

export class Events extends EventEmitter<SlipwayEvents> {}
