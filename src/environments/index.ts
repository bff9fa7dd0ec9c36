export {
  deleteEnvironment,
  environmentAlias,
  environmentForBranch,
  environmentForBranchOf,
  findEnvironment,
  getEnvironment,
  listEnvironments,
  PREVIEW_ENV,
  PRODUCTION_ENV,
  saveEnvironment,
  serializeEnvironment,
  type EnvironmentInput,
  type EnvironmentSettings,
} from './settings.js';
export { checkApprover, checkReason, goLivePlan, pendingApproval } from './approval.js';
