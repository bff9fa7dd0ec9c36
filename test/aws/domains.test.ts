import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { ACMClient, DeleteCertificateCommand, RequestCertificateCommand } from '@aws-sdk/client-acm';
import {
  CloudFrontClient,
  CreateDistributionCommand,
  CreateOriginAccessControlCommand,
  GetDistributionCommand,
  GetDistributionConfigCommand,
  UpdateDistributionCommand,
} from '@aws-sdk/client-cloudfront';
import { domainsDue } from '../../src/acme/domain-status.js';
import type { Project } from '../../src/store/index.js';
import { checkAwsDomains } from '../../src/targets/aws/index.js';
import { recordResources } from '../../src/targets/aws/target.js';
import { ADMIN, type ApiFixture, startApi } from '../auth/fixture.js';
import { runCli } from '../cli/run-cli.js';
import { type AwsStandIn, startAwsStandIn } from '../helpers/aws/index.js';
import { forEachBackend } from '../helpers/backends.js';
import { distributionConfig } from './fixtures.js';

// Custom domains of a project that goes live on AWS, through the domains API and the real CLI
// binary, against the model-checking stand-in (ACM, CloudFront) with the store on SQLite and on
// PostgreSQL: the records shown, one certificate for the distribution's whole set of names, the
// aliases and the certificate the distribution has after each step, failures, removal.
forEachBackend('custom domains on AWS', (backend) => {
  let api: ApiFixture;
  let aws: AwsStandIn;
  let cf: CloudFrontClient;
  let url: string;
  let owner: { token: string };
  let project: Project;
  let distributionId: string;
  let oacId: string;
  const deps = () => ({ store: api.store, box: api.box, config: { awsEndpoints: { api: aws.endpoint } } });
  const later = (minutes: number) => Date.now() + minutes * 60_000;

  before(async () => {
    aws = await startAwsStandIn();
    api = await startApi({ backend, env: { SLIPWAY_AWS_ENDPOINT: aws.endpoint } });
    await api.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}`;
    assert.equal((await api.call('POST', '/api/v1/teams', { auth: ADMIN, body: { slug: 'acme' } })).status, 201);
    owner = await api.person('own@example.com', 'acme', 'owner');
    assert.equal((await api.call('POST', '/api/v1/projects', { auth: owner.token, body: { name: 'shop', repoUrl: 'file:///nowhere', team: 'acme' } })).status, 201);
    assert.equal((await api.call('PUT', '/api/v1/teams/acme/aws', { auth: owner.token, body: { region: 'eu-west-1', ...aws.credentials } })).status, 200);
    assert.equal((await api.call('PUT', '/api/v1/projects/shop/target', { auth: owner.token, body: { target: 'aws' } })).status, 200);
    project = await api.store.db.selectFrom('projects').selectAll().where('name', '=', 'shop').executeTakeFirstOrThrow();
    cf = new CloudFrontClient({ region: 'us-east-1', endpoint: aws.endpoint, credentials: aws.credentials });
    const oac = await cf.send(
      new CreateOriginAccessControlCommand({
        OriginAccessControlConfig: { Name: `oac-${backend.name}`, SigningProtocol: 'sigv4', SigningBehavior: 'always', OriginAccessControlOriginType: 's3' },
      }),
    );
    oacId = oac.OriginAccessControl?.Id as string;
  });
  after(async () => {
    cf?.destroy();
    await api?.close();
    await aws?.close();
  });

  const add = (name: string, body: Record<string, unknown> = {}) => api.call('POST', '/api/v1/projects/shop/domains', { auth: owner.token, body: { name, ...body } });
  const show = async (name: string) => (await api.call('GET', `/api/v1/projects/shop/domains/${encodeURIComponent(name)}`, { auth: owner.token })).body;
  const distribution = async () => (await cf.send(new GetDistributionConfigCommand({ Id: distributionId }))).DistributionConfig;
  const acm = () => new ACMClient({ region: 'us-east-1', endpoint: aws.endpoint, credentials: aws.credentials });
  /** a certificate of the account's own (not Slipway's), issued */
  const acmIssued = async (name: string) => {
    const client = acm();
    const arn = (await client.send(new RequestCertificateCommand({ DomainName: name, ValidationMethod: 'DNS' }))).CertificateArn as string;
    client.destroy();
    aws.acm.issue(arn);
    return arn;
  };
  /** drop the distribution that uses it, then delete it: the account ends as it began */
  const deleteOwn = async (arn: string) => {
    for (const d of aws.cloudfront.distributions.values()) {
      if ((d.config.ViewerCertificate as { ACMCertificateArn?: string } | undefined)?.ACMCertificateArn === arn) aws.cloudfront.distributions.delete(d.id);
    }
    const client = acm();
    await client.send(new DeleteCertificateCommand({ CertificateArn: arn }));
    client.destroy();
    return !aws.acm.certificates.has(arn);
  };
  const slipway = (args: string[]) => runCli([...args, '--url', url, '--token', owner.token], { timeoutMs: 30_000 });

  test('before the first deployment: the ACM record to create, then the domain joins the distribution the deployment makes', async () => {
    const added = await add('shop.example.com');
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.status, 'pending-certificate');
    const cert = added.body.dns.certificate;
    assert.match(cert.arn, /^arn:aws:acm:us-east-1:123456789012:certificate\//, 'CloudFront takes certificates from us-east-1 only');
    assert.equal(cert.status, 'PENDING_VALIDATION');
    const stored = aws.acm.certificates.get(cert.arn);
    assert.equal(stored?.domain, 'shop.example.com');
    assert.deepEqual(
      added.body.dns.records.map((r: { type: string; name: string; purpose: string }) => [r.purpose, r.type, r.name]),
      [
        ['certificate', 'CNAME', '_10a1b2.shop.example.com.'],
        ['traffic', 'CNAME', 'shop.example.com'],
      ],
    );
    assert.equal(added.body.dns.cname, null, 'no distribution to point at yet');
    assert.match(added.body.dns.notes[0], /first deployment/);
    assert.match(added.body.todo, /create CNAME _10a1b2\.shop\.example\.com\. -> _c3d416\.acm-validations\.aws\./);
    // the edge's certificate manager leaves it alone: ACM, not ACME, certifies it
    assert.deepEqual(
      (await domainsDue(api.store.db, Date.now())).map((d) => d.name),
      [],
    );

    aws.acm.issue(cert.arn);
    const issued = await api.call('POST', '/api/v1/projects/shop/domains/shop.example.com/verify', { auth: owner.token });
    assert.equal(issued.body.status, 'pending-certificate');
    assert.match(issued.body.statusDetail, /issued; the domain joins the CloudFront distribution with the project's first deployment/);

    // what the first deployment does (deploy.ts): make the distribution and record it
    const made = await cf.send(new CreateDistributionCommand({ DistributionConfig: distributionConfig(`slipway-${project.id}-project`, oacId) }));
    distributionId = made.Distribution?.Id as string;
    await recordResources(api.store.db, project.id, '', { distributionId, distributionDomain: made.Distribution?.DomainName as string });
    // the background check sees the distribution in the store within its next round
    assert.equal(await checkAwsDomains(deps(), Date.now()), 1);
    const active = await show('shop.example.com');
    assert.equal(active.status, 'active', active.statusDetail);
    assert.equal(active.dns.cname.value, `${distributionId.toLowerCase()}.cloudfront.net`);
    const config = await distribution();
    assert.deepEqual(config?.Aliases?.Items, ['shop.example.com']);
    assert.equal(config?.ViewerCertificate?.ACMCertificateArn, cert.arn);
    assert.equal(config?.ViewerCertificate?.SSLSupportMethod, 'sni-only');
    // the project's notifications hear of it as of an edge domain's certificate
    const events = await api.store.db.selectFrom('notification_events').select(['type', 'data']).where('type', 'like', 'certificate.%').execute();
    assert.deepEqual(
      events.map((e) => [e.type, JSON.parse(e.data).domain.name]),
      [['certificate.issued', 'shop.example.com']],
    );
  });

  test('a second domain: one certificate for both, the distribution switches when it is issued, the old one is deleted once released', async () => {
    const first = (await show('shop.example.com')).dns.certificate.arn;
    const added = await add('*.example.com');
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.wildcard, true);
    const second = added.body.dns.certificate;
    assert.notEqual(second.arn, first);
    assert.deepEqual(second.names, ['*.example.com', 'shop.example.com']);
    assert.deepEqual(added.body.dns.records[0], { type: 'CNAME', name: '_ba1b2.example.com.', value: '_c3d411.acm-validations.aws.', purpose: 'certificate' });
    assert.equal(added.body.dns.records[1].value, `${distributionId.toLowerCase()}.cloudfront.net`);
    // meanwhile the first one is still served with its own certificate
    assert.equal((await show('shop.example.com')).status, 'active');
    assert.equal((await distribution())?.ViewerCertificate?.ACMCertificateArn, first);

    aws.acm.issue(second.arn);
    const verified = await slipway(['domains', 'verify', 'shop', '*.example.com']);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /\*\.example\.com {2}active\n {2}Served by CloudFront/);
    const config = await distribution();
    assert.deepEqual(config?.Aliases?.Items, ['*.example.com', 'shop.example.com']);
    assert.equal(config?.ViewerCertificate?.ACMCertificateArn, second.arn);
    // CloudFront holds the replaced certificate until its change is deployed; then it goes
    assert.ok(aws.acm.certificates.has(first), 'still in use while the distribution deploys');
    await cf.send(new GetDistributionCommand({ Id: distributionId }));
    await checkAwsDomains(deps(), later(2));
    assert.equal(aws.acm.certificates.has(first), false, 'deleted once released');
  });

  test('the CLI prints both records, verify exits 1 until the domain is served; a failure from ACM is shown as error', async () => {
    const out = await slipway(['domains', 'add', 'shop', 'www.example.org']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /Added www\.example\.org to shop\.\nwww\.example\.org {2}pending-certificate\n/);
    assert.match(out.stdout, /Create at your DNS provider:\n {6}_fa1b2\.www\.example\.org\. {2}CNAME {2}_c3d415\.acm-validations\.aws\. +\(proves the name to ACM\)\n/);
    assert.match(out.stdout, new RegExp(` {6}www\\.example\\.org +CNAME {2}${distributionId.toLowerCase()}\\.cloudfront\\.net +\\(sends visitors to CloudFront\\)`));
    const pending = await slipway(['domains', 'verify', 'shop', 'www.example.org']);
    assert.equal(pending.code, 1, 'not served yet');
    const arn = (await show('www.example.org')).dns.certificate.arn;
    assert.equal(aws.acm.certificates.get(arn)?.sans.length, 3, 'the new certificate covers all three names');

    aws.acm.fail(arn, 'FAILED', 'CAA_ERROR');
    await checkAwsDomains(deps(), later(90));
    const failed = await show('www.example.org');
    assert.equal(failed.status, 'error');
    assert.match(failed.statusDetail, /ACM did not issue the certificate for www\.example\.org: FAILED \(CAA_ERROR\)/);
    assert.equal((await show('shop.example.com')).status, 'active', 'the served ones stay served');
    const ls = await slipway(['domains', 'ls', 'shop']);
    assert.match(ls.stdout, /www\.example\.org {2}error\n {2}ACM did not issue/);
    // a person fixed the CAA record and asks again: a new request (ACM never retries a failed one)
    const again = await api.call('POST', '/api/v1/projects/shop/domains/www.example.org/verify', { auth: owner.token });
    assert.equal(again.body.status, 'pending-certificate');
    assert.notEqual(again.body.dns.certificate.arn, arn);
    aws.acm.issue(again.body.dns.certificate.arn);
    assert.equal((await api.call('POST', '/api/v1/projects/shop/domains/www.example.org/verify', { auth: owner.token })).body.status, 'active');
    assert.deepEqual((await distribution())?.Aliases?.Items, ['*.example.com', 'shop.example.com', 'www.example.org']);
  });

  test('the rules stay: a clash, a redirect (not on AWS yet), a foreign project; the stand-in refuses a name the certificate does not cover', async () => {
    const clash = await add('shop.example.com');
    assert.equal(clash.status, 409);
    assert.equal(clash.body.error.code, 'DOMAIN_TAKEN');
    const redirect = await add('old.example.org', { redirectTo: 'www.example.org' });
    assert.equal(redirect.status, 422);
    assert.equal(redirect.body.error.code, 'AWS_DOMAIN_UNSUPPORTED');
    assert.match(redirect.body.error.hint, /edge/);
    assert.equal((await add('http://x.example.org/')).status, 400);
    const stranger = await api.person(`x-${backend.name}@example.com`);
    assert.equal((await api.call('GET', '/api/v1/projects/shop/domains/shop.example.com', { auth: stranger.token })).status, 404);
    assert.equal((await api.call('DELETE', '/api/v1/projects/shop/domains/shop.example.com', { auth: stranger.token })).status, 404);

    // AWS refusing the certificate: a clear error and nothing stored
    const key = aws.identity.keys.get(aws.credentials.accessKeyId)!;
    key.expired = true;
    const expired = await add('new.example.org');
    key.expired = false;
    assert.equal(expired.status, 502);
    assert.equal(expired.body.error.code, 'AWS_DOMAIN_FAILED');
    assert.match(expired.body.error.message, /ExpiredTokenException/);
    assert.match(expired.body.error.hint, /slipway aws set/);
    assert.equal((await api.call('GET', '/api/v1/projects/shop/domains/new.example.org', { auth: owner.token })).status, 404);

    const current = await cf.send(new GetDistributionConfigCommand({ Id: distributionId }));
    const config = current.DistributionConfig!;
    config.Aliases = { Quantity: 1, Items: ['other.example.net'] };
    await assert.rejects(cf.send(new UpdateDistributionCommand({ Id: distributionId, IfMatch: current.ETag, DistributionConfig: config })), { name: 'InvalidViewerCertificate' });
  });

  test("a name another distribution holds is an error with CloudFront's words; the served ones stay; a refused removal keeps the domain", async () => {
    // someone else's distribution in the account already answers for taken.example.org
    const other = await acmIssued('taken.example.org');
    const config = { ...distributionConfig(`other-${backend.name}`, oacId), Aliases: { Quantity: 1, Items: ['taken.example.org'] } };
    config.ViewerCertificate = { ACMCertificateArn: other, SSLSupportMethod: 'sni-only', MinimumProtocolVersion: 'TLSv1.2_2021' };
    await cf.send(new CreateDistributionCommand({ DistributionConfig: config }));
    const added = await add('taken.example.org');
    aws.acm.issue(added.body.dns.certificate.arn);
    const refused = (await api.call('POST', '/api/v1/projects/shop/domains/taken.example.org/verify', { auth: owner.token })).body;
    assert.equal(refused.status, 'error');
    assert.match(refused.statusDetail, /AWS answered CNAMEAlreadyExists: .*taken\.example\.org/);
    assert.equal((await show('www.example.org')).status, 'active');
    assert.deepEqual((await distribution())?.Aliases?.Items, ['*.example.com', 'shop.example.com', 'www.example.org']);

    aws.failNext('cloudfront', 'UpdateDistribution', { code: 'PreconditionFailed', status: 412 });
    const kept = await api.call('DELETE', '/api/v1/projects/shop/domains/www.example.org', { auth: owner.token });
    assert.equal(kept.status, 502);
    assert.equal(kept.body.error.code, 'AWS_DOMAIN_FAILED');
    assert.match(kept.body.error.message, /PreconditionFailed/);
    assert.equal((await show('www.example.org')).status, 'active', 'still there, still served');
    assert.equal((await api.call('DELETE', '/api/v1/projects/shop/domains/taken.example.org', { auth: owner.token })).status, 204);
    assert.equal(aws.acm.certificates.has(added.body.dns.certificate.arn), false, 'the certificate nobody uses is gone');
    assert.equal(await deleteOwn(other), true);
  });

  test("removal takes the alias off the distribution; the last one puts back CloudFront's certificate and deletes ACM's", async () => {
    const rm = await slipway(['domains', 'rm', 'shop', 'www.example.org']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.deepEqual((await distribution())?.Aliases?.Items, ['*.example.com', 'shop.example.com']);
    const arn = (await show('shop.example.com')).dns.certificate.arn;
    for (const name of ['*.example.com', 'shop.example.com']) {
      assert.equal((await api.call('DELETE', `/api/v1/projects/shop/domains/${encodeURIComponent(name)}`, { auth: owner.token })).status, 204);
    }
    const config = await distribution();
    assert.equal(config?.Aliases?.Quantity, 0);
    assert.equal(config?.ViewerCertificate?.CloudFrontDefaultCertificate, true);
    assert.deepEqual((await api.call('GET', '/api/v1/projects/shop/domains', { auth: owner.token })).body.domains, []);
    await cf.send(new GetDistributionCommand({ Id: distributionId }));
    await checkAwsDomains(deps(), later(2));
    assert.equal(aws.acm.certificates.has(arn), false);
    assert.equal(aws.acm.certificates.size, 0, 'no certificate left behind');
    assert.deepEqual(aws.violations, []);
  });
});
