import { bool, object, orNull, params, route, str, type JsonSchema } from './common.js';
import { deploymentShape } from './projects.js';

// The schemas describe the shapes; the handlers check the values themselves so that a bad one
// gets a message with a hint. No additionalProperties: an unknown field gets that hint too.
const projectParams = params({ project: 'the project name (or id)' });
const envParams = params({ project: 'the project name (or id)', environment: 'production, preview or a named environment' });
const settingsBody = object(
  {
    name: str('a named environment: lower-case letters, digits, hyphens (POST only)'),
    branch: orNull(str('the branch whose pushes deploy to it')),
    requiresApproval: bool('a ready build waits in awaiting-approval until a person approves it'),
    approvers: str('who may approve', { enum: ['owner', 'member'] }),
    autoPromote: bool('false: a ready build does not take the alias; a person promotes it'),
    protection: {
      anyOf: [{ type: 'null' }, { type: 'object', properties: { mode: { type: ['string', 'null'], enum: ['password', 'token', null] }, password: { type: 'string' } } }],
      description: 'password or bypass-token protection of its hosts; null: off',
    },
  },
  [],
  { examples: [{ name: 'staging', branch: 'develop', requiresApproval: true }] },
);
const environmentShape: JsonSchema = object(
  {
    name: str(),
    branch: orNull(str()),
    requiresApproval: bool(),
    approvers: str(),
    autoPromote: bool(),
    protection: orNull(object({ mode: str('password or token') })),
    url: orNull(str('its alias host; null for preview (each branch has its own)')),
    bypassToken: str('token protection only: shown once, when it is made'),
  },
  ['name', 'requiresApproval', 'approvers', 'autoPromote'],
);
const tags = ['environments'];
// no `type`: the body is optional (no body at all validates), and a reason must be a string
const decisionBody = { properties: { reason: str('why, for the audit trail (at most 500 characters)') } };
const idParams = params({ id: 'the deployment id' });

export const environmentSchemas = {
  list: route({ summary: "List a project's environments", tags, params: projectParams, response: { 200: object({ environments: { type: 'array', items: environmentShape } }, ['environments']) } }),
  create: route({ summary: 'Create a named environment', tags, params: projectParams, body: settingsBody, response: { 201: environmentShape } }),
  show: route({ summary: 'Show one environment', tags, params: envParams, response: { 200: environmentShape } }),
  update: route({ summary: "Change an environment's settings", tags, params: envParams, body: settingsBody, response: { 200: environmentShape } }),
  remove: route({ summary: 'Delete a named environment (its alias and domains go; its deployments stay)', tags, params: envParams, response: { 204: null } }),
  approve: route({ summary: 'Approve a deployment: its environment serves it now', tags: ['deployments'], params: idParams, body: decisionBody, response: { 200: deploymentShape } }),
  reject: route({ summary: 'Reject a deployment: it never serves at its environment', tags: ['deployments'], params: idParams, body: decisionBody, response: { 200: deploymentShape } }),
};
