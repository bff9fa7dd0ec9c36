import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CloudFrontClient,
  CreateDistributionCommand,
  CreateInvalidationCommand,
  CreateOriginAccessControlCommand,
  GetDistributionConfigCommand,
  UpdateDistributionCommand,
} from '@aws-sdk/client-cloudfront';
import { IAMClient, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { CreateAliasCommand, CreateFunctionCommand, GetAliasCommand, LambdaClient, PublishVersionCommand, UpdateFunctionCodeCommand } from '@aws-sdk/client-lambda';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { type AwsStandIn, startAwsStandIn } from '../helpers/aws/index.js';
import { distributionConfig, tinyZip } from './fixtures.js';

describe('the AWS stand-in', () => {
  let aws: AwsStandIn;
  let client: { endpoint: string; region: string; credentials: AwsStandIn['credentials']; maxAttempts: number };
  before(async () => {
    aws = await startAwsStandIn();
    client = { endpoint: aws.endpoint, region: 'eu-west-1', credentials: aws.credentials, maxAttempts: 1 };
  });
  after(async () => {
    aws.violations.length = 0; // the refusals below are on purpose
    await aws.close();
  });

  it('keeps versions and aliases as Lambda does, and refuses a publish while an update is in progress', async () => {
    const lambda = new LambdaClient(client);
    const zip = await tinyZip('v1');
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'site', Role: 'arn:aws:iam::123456789012:role/x', Runtime: 'nodejs20.x', Handler: 'index.handler', Code: { ZipFile: zip } }));
    const v1 = await lambda.send(new PublishVersionCommand({ FunctionName: 'site', Description: 'one' }));
    assert.equal(v1.Version, '1');
    await lambda.send(new CreateAliasCommand({ FunctionName: 'site', Name: 'live', FunctionVersion: '1' }));
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'site', ZipFile: await tinyZip('v2') }));
    await assert.rejects(lambda.send(new PublishVersionCommand({ FunctionName: 'site' })), { name: 'ResourceConflictException' });
    const alias = await lambda.send(new GetAliasCommand({ FunctionName: 'site', Name: 'live' }));
    assert.equal(alias.FunctionVersion, '1');
    assert.deepEqual(aws.violations, []);
  });

  it('answers a request the model does not allow with a 400 naming it, and records a violation', async () => {
    const lambda = new LambdaClient(client);
    // Role is required by the model; the SDK sends what it is given
    await assert.rejects(lambda.send(new CreateFunctionCommand({ FunctionName: 'bad', Code: { ZipFile: await tinyZip('x') } } as never)), /Role: required by the model/);
    assert.equal(aws.violations.length, 1);
    aws.violations.length = 0;
  });

  it('needs the current ETag to update a distribution', async () => {
    const cf = new CloudFrontClient(client);
    const oac = await cf.send(
      new CreateOriginAccessControlCommand({ OriginAccessControlConfig: { Name: 'slipway-test', SigningBehavior: 'always', SigningProtocol: 'sigv4', OriginAccessControlOriginType: 's3' } }),
    );
    const created = await cf.send(new CreateDistributionCommand({ DistributionConfig: distributionConfig('ref-1', oac.OriginAccessControl?.Id as string) }));
    const id = created.Distribution?.Id as string;
    const got = await cf.send(new GetDistributionConfigCommand({ Id: id }));
    assert.equal(got.DistributionConfig?.Origins?.Items?.[0]?.OriginPath, '/deployments/first');
    const config = { ...got.DistributionConfig, Comment: 'changed' } as never;
    await assert.rejects(cf.send(new UpdateDistributionCommand({ Id: id, IfMatch: 'E-STALE', DistributionConfig: config })), { name: 'PreconditionFailed' });
    const updated = await cf.send(new UpdateDistributionCommand({ Id: id, IfMatch: got.ETag, DistributionConfig: config }));
    assert.equal(updated.Distribution?.DistributionConfig?.Comment, 'changed');
    assert.notEqual(updated.ETag, got.ETag);
    const inv = await cf.send(new CreateInvalidationCommand({ DistributionId: id, InvalidationBatch: { CallerReference: 'c1', Paths: { Quantity: 1, Items: ['/index.html'] } } }));
    assert.deepEqual(inv.Invalidation?.InvalidationBatch?.Paths?.Items, ['/index.html']);
    assert.deepEqual(aws.violations, []);
  });

  it('assumes a role only with its external id, and simulates policies', async () => {
    const roleArn = 'arn:aws:iam::123456789012:role/slipway-deployer';
    aws.identity.roles.set(roleArn, { externalId: 'ext-123' });
    aws.identity.denied.set(roleArn, new Set(['cloudfront:CreateInvalidation']));
    const sts = new STSClient(client);
    await assert.rejects(sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 's', ExternalId: 'wrong' })), { name: 'AccessDenied' });
    const assumed = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 's', ExternalId: 'ext-123' }));
    const creds = assumed.Credentials;
    assert.ok(creds?.Expiration instanceof Date);
    const asRole = { ...client, credentials: { accessKeyId: creds?.AccessKeyId as string, secretAccessKey: creds?.SecretAccessKey as string, sessionToken: creds?.SessionToken as string } };
    const me = await new STSClient(asRole).send(new GetCallerIdentityCommand({}));
    assert.equal(me.Arn, 'arn:aws:sts::123456789012:assumed-role/slipway-deployer/s');
    const sim = await new IAMClient(asRole).send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: roleArn, ActionNames: ['lambda:PublishVersion', 'cloudfront:CreateInvalidation'] }));
    assert.deepEqual(
      sim.EvaluationResults?.map((r) => [r.EvalActionName, r.EvalDecision]),
      [
        ['lambda:PublishVersion', 'allowed'],
        ['cloudfront:CreateInvalidation', 'implicitDeny'],
      ],
    );
    assert.deepEqual(aws.violations, []);
  });
});
