import { bool, isoTime, object, orNull, params, route, str } from './common.js';

const teamParams = params({ team: 'the team slug' });
const projectParams = params({ project: 'the project name' });

const accessShape = object(
  {
    kind: str('keys or role', { enum: ['keys', 'role'] }),
    region: str(),
    accessKeyId: str('the last 4 characters'),
    roleArn: str(),
    externalId: orNull(str('"set" when one is set; never shown')),
    updatedAt: isoTime(),
  },
  ['kind', 'region', 'updatedAt'],
);
const resourcesShape = object(
  {
    bucket: str(),
    originAccessControlId: str(),
    functionName: str(),
    functionRoleArn: str(),
    functionUrl: str(),
    aliasArn: str(),
    imageFunctionName: str(),
    distributionId: str(),
    distributionDomain: str(),
  },
  [],
);
const targetShape = object({ target: str('edge or aws', { enum: ['edge', 'aws'] }), environment: orNull(str('null: the whole project')), resources: resourcesShape }, [
  'target',
  'environment',
  'resources',
]);
const problemShape = orNull(object({ code: str(), message: str(), hint: str() }, ['code', 'message']));

export const awsSchemas = {
  showAccess: route({
    summary: "A team's AWS access, masked",
    tags: ['aws'],
    params: teamParams,
    response: { 200: object({ aws: orNull(accessShape) }, ['aws']) },
  }),
  setAccess: route({
    summary: "Set a team's AWS access (stored encrypted)",
    description: 'An access key pair, or a role ARN Slipway assumes with STS (with the external id its trust policy demands); and the region. The least-privilege policy is docs/aws-iam-policy.json.',
    tags: ['aws'],
    params: teamParams,
    body: object({ region: str(), accessKeyId: str(), secretAccessKey: str(), roleArn: str(), externalId: str() }, [], {
      examples: [{ region: 'eu-west-1', roleArn: 'arn:aws:iam::123456789012:role/slipway-deployer', externalId: 'acme-7f3a' }],
    }),
    response: { 200: accessShape },
  }),
  removeAccess: route({ summary: "Remove a team's AWS access", tags: ['aws'], params: teamParams, response: { 204: null } }),
  checkAccess: route({
    summary: "Check a team's AWS access against the documented policy",
    description: 'STS GetCallerIdentity, then IAM SimulatePrincipalPolicy for every action of docs/aws-iam-policy.json: `missing` lists what the principal may not do.',
    tags: ['aws'],
    params: teamParams,
    response: {
      200: object({ ok: bool(), identity: orNull(object({ account: str(), arn: str() }, ['account', 'arn'])), missing: { type: 'array', items: str() }, problem: problemShape }, [
        'ok',
        'identity',
        'missing',
        'problem',
      ]),
    },
  }),
  showTarget: route({
    summary: 'Where a project goes live: the edge or AWS, per environment',
    tags: ['aws'],
    params: projectParams,
    response: { 200: object({ project: str(), target: str(), targets: { type: 'array', items: targetShape } }, ['project', 'target', 'targets']) },
  }),
  setTarget: route({
    summary: "Set a project's (or one environment's) target",
    description: 'target "aws" deploys to S3 + Lambda + CloudFront with the team\'s AWS access; resources names existing ones to use (the rest is made on the first deployment).',
    tags: ['aws'],
    params: projectParams,
    body: object({ target: str('edge or aws', { enum: ['edge', 'aws'] }), environment: str('one environment only'), resources: object({}, [], { additionalProperties: { type: 'string' } }) }, [], {
      examples: [{ target: 'aws', resources: { functionRoleArn: 'arn:aws:iam::123456789012:role/slipway-fn' } }],
    }),
    response: { 200: targetShape },
  }),
  deploymentAws: route({
    summary: 'What a deployment did on AWS: steps with timings, versions, alias, asset root, distribution',
    tags: ['aws'],
    params: params({ id: 'the deployment id' }),
    response: { 200: object({ aws: orNull(object({ steps: { type: 'array', items: object({}) } }, ['steps'])) }, ['aws']) },
  }),
};
