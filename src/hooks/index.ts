/**
 * Git host webhooks: each provider's module verifies a delivery and turns its payload into one
 * shape (a push or a pull request); plan.ts decides what that means under the project's
 * preview settings; deliver.ts does it, once per delivery id.
 */
export { handleDelivery, type Answer, type HookDeps } from './deliver.js';
export { readGiteaDelivery } from './gitea.js';
export { readGithubDelivery } from './github.js';
export { readGitlabDelivery } from './gitlab.js';
export { globMatches, pathMatches } from './globs.js';
export { planDelivery, previewRefusal, type Plan } from './plan.js';
export type { Delivery, Headers, HookEvent, Provider } from './types.js';
