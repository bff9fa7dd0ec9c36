import { EventEmitter } from 'node:events';

/**
 * In-process notifications between roles of one process: the api tells the worker a job is
 * waiting (so it need not wait for its next poll) and tells the edge an alias moved (so it
 * drops cached routes at once). Other processes learn the same from the store by polling.
 */
export interface SlipwayEvents {
  'job-enqueued': [];
  /** a deployment's status changed (the git host reporter tells the git host at once) */
  'deployment-changed': [{ deploymentId: string }];
  'alias-moved': [{ projectId: string; alias: string; deploymentId: string }];
}

export class Events extends EventEmitter<SlipwayEvents> {}
