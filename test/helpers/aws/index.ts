import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as acmSdk from '@aws-sdk/client-acm';
import * as cloudfrontSdk from '@aws-sdk/client-cloudfront';
import * as iamSdk from '@aws-sdk/client-iam';
import * as lambdaSdk from '@aws-sdk/client-lambda';
import * as stsSdk from '@aws-sdk/client-sts';
import { type AccessKey, ACCOUNT_ID, AwsError, COMMON_ERRORS, type Service } from './account.js';
import { type CloudFrontState, createCloudFront } from './cloudfront.js';
import { type AcmState, createAcm, createIdentity, type IdentityState } from './identity.js';
import { createFunctionUrls, type FunctionUrls } from './function-urls.js';
import { type LambdaState, createLambda } from './lambda.js';
import { type ApiModel, loadModel, validate } from './model.js';
import { decodeRequest, encodeError, encodeResponse, UnknownOperation, type WireResponse } from './protocols.js';

export { ACCOUNT_ID, AwsError } from './account.js';

// s3rver keeps its key pairs in one registry: the stand-in's keys (and the sessions STS hands out) sign S3 requests too
// @ts-expect-error s3rver ships no types
import s3rverAccount from 's3rver/lib/models/account.js';

function allowS3Key(accessKeyId: string, secretAccessKey: string): void {
  (s3rverAccount as { DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void } }).DUMMY_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey);
}

/**
 * A local stand-in for Lambda, CloudFront, ACM, STS and IAM on one port. The SDK v3 clients
 * reach it through `endpoint`; the service is read from the request's SigV4 credential scope.
 * Every request is checked against AWS's model; anything the model does not allow is a 400
 * naming the problem AND a recorded violation, which `close()` turns into a test failure.
 */
export interface AwsStandIn {
  endpoint: string;
  /** the key pair of the account's user; more keys come from AssumeRole */
  credentials: { accessKeyId: string; secretAccessKey: string };
  userArn: string;
  lambda: LambdaState;
  /** the Function URLs, served on `endpoint` to requests whose Host is a URL's host (what SLIPWAY_AWS_ENDPOINT reaches) */
  functionUrls: FunctionUrls;
  cloudfront: CloudFrontState;
  acm: AcmState;
  identity: IdentityState;
  /** every call that reached a handler, in order */
  calls: { service: string; operation: string; input: Record<string, unknown> }[];
  /** the next `times` calls of `operation` answer this error instead (throttling, conflicts) */
  failNext(service: string, operation: string, error: { code: string; message?: string; status: number }, times?: number): void;
  /** the next `times` S3 requests with this method (PUT: uploads) answer this error instead of reaching s3rver */
  failNextS3(method: string, error: { code: string; status: number }, times?: number): void;
  violations: string[];
  /** bucket policies set with PutBucketPolicy (s3rver has none: the stand-in keeps them) */
  bucketPolicies: Map<string, unknown>;
  /** stop; throws if any request broke the model */
  close(): Promise<void>;
}

const SERVICES: Record<string, { uid: string; sdk: Record<string, unknown> }> = {
  lambda: { uid: 'lambda-2015-03-31', sdk: lambdaSdk },
  cloudfront: { uid: 'cloudfront-2020-05-31', sdk: cloudfrontSdk },
  acm: { uid: 'acm-2015-12-08', sdk: acmSdk },
  sts: { uid: 'sts-2011-06-15', sdk: stsSdk },
  iam: { uid: 'iam-2010-05-08', sdk: iamSdk },
};

const models = new Map<string, ApiModel>();
function modelFor(service: string): ApiModel {
  let model = models.get(service);
  if (model === undefined) models.set(service, (model = loadModel((SERVICES[service] as { uid: string }).uid)));
  return model;
}

/** An error code the service can really answer with: an exception class of its official SDK client, or one every service shares. */
function knownError(service: string, code: string): boolean {
  if (COMMON_ERRORS.has(code)) return true;
  const cls = SERVICES[service]?.sdk[code];
  return typeof cls === 'function' && cls.prototype instanceof Error;
}

/**
 * `s3`: a running s3rver; S3 requests to the stand-in are passed on to it as they are (their
 * signature stays valid: the Host header is kept), except PutBucketPolicy, which s3rver lacks.
 */
export async function startAwsStandIn(opts: { s3?: { endpoint: string } } = {}): Promise<AwsStandIn> {
  const lambda = createLambda();
  const functionUrls = createFunctionUrls(lambda);
  const acm = createAcm();
  const cloudfront = createCloudFront(acm);
  const identity = createIdentity();
  const services: Record<string, Service> = { lambda, cloudfront, acm, sts: identity.sts, iam: identity.iam };
  const credentials = { accessKeyId: 'AKIASTANDIN0000USER', secretAccessKey: 'stand-in-secret-key' };
  const userArn = `arn:aws:iam::${ACCOUNT_ID}:user/slipway`;
  identity.keys.set(credentials.accessKeyId, { secretAccessKey: credentials.secretAccessKey, arn: userArn });
  allowS3Key(credentials.accessKeyId, credentials.secretAccessKey);
  identity.onKey = allowS3Key;
  const bucketPolicies = new Map<string, unknown>();
  const s3Faults: { method: string; error: { code: string; status: number }; times: number }[] = [];
  const violations: string[] = [];
  const calls: AwsStandIn['calls'] = [];
  const faults: { service: string; operation: string; error: { code: string; message?: string; status: number }; times: number }[] = [];

  const violation = (text: string) => {
    violations.push(text);
    console.error(`aws stand-in: ${text}`);
  };

  const answer = async (req: IncomingMessage, body: Buffer): Promise<WireResponse> => {
    const requestId = randomUUID();
    const scope = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(String(req.headers.authorization ?? ''));
    if (scope === null) {
      violation(`unsigned request ${req.method} ${req.url}`);
      return { status: 403, headers: {}, body: 'missing SigV4 Authorization' };
    }
    const [, accessKeyId = '', region = '', service = ''] = scope;
    if (SERVICES[service] === undefined) {
      violation(`a request for service ${service}, which the stand-in does not play`);
      return { status: 400, headers: {}, body: `unknown service ${service}` };
    }
    const model = modelFor(service);
    const key: AccessKey | undefined = identity.keys.get(accessKeyId);
    const fail = (code: string, message: string, status: number) => encodeError(model, code, message, status, requestId);
    if (key === undefined || (key.sessionToken !== undefined && req.headers['x-amz-security-token'] !== key.sessionToken)) {
      return fail(service === 'sts' || service === 'iam' ? 'InvalidClientTokenId' : 'UnrecognizedClientException', 'The security token included in the request is invalid.', 403);
    }
    if (key.expired === true) return fail('ExpiredTokenException', 'The security token included in the request is expired', 400);
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const problems: string[] = [];
    let decoded: ReturnType<typeof decodeRequest>;
    try {
      decoded = decodeRequest(model, { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body }, problems);
    } catch (err) {
      const text = err instanceof UnknownOperation ? err.message : `unreadable ${service} request ${req.method} ${url.pathname}: ${(err as Error).message}`;
      violation(text);
      return fail(service === 'iam' || service === 'sts' ? 'ValidationError' : 'ValidationException', text, 400);
    }
    const { op, input } = decoded;
    if (op.input !== undefined) validate(model, op.input, input, '', problems);
    if (problems.length > 0) {
      const text = `${service}:${op.name} breaks the model: ${problems.join('; ')}`;
      violation(text);
      return fail(service === 'iam' || service === 'sts' ? 'ValidationError' : 'ValidationException', text, 400);
    }
    const fault = faults.find((f) => f.service === service && f.operation === op.name && f.times > 0);
    if (fault !== undefined) {
      fault.times -= 1;
      return fail(fault.error.code, fault.error.message ?? `${fault.error.code} (injected by the test)`, fault.error.status);
    }
    const handler = services[service]?.handlers[op.name];
    if (handler === undefined) {
      violation(`${service}:${op.name} is in the model but the stand-in does not play it`);
      return fail('ValidationException', `the stand-in does not implement ${service}:${op.name}`, 400);
    }
    calls.push({ service, operation: op.name, input });
    try {
      const output = await handler(input, { region, key });
      const outProblems: string[] = [];
      if (op.output !== undefined) validate(model, op.output, output, '', outProblems);
      if (outProblems.length > 0) {
        violation(`the stand-in's own ${service}:${op.name} answer breaks the model: ${outProblems.join('; ')}`);
        return fail('ServiceException', 'stand-in bug', 500);
      }
      return encodeResponse(model, op, output, requestId);
    } catch (err) {
      if (!(err instanceof AwsError)) throw err;
      if (!knownError(service, err.code)) violation(`${service}:${op.name} answered ${err.code}, which the ${service} SDK does not know`);
      return fail(err.code, err.message, err.status);
    }
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (functionUrls.handle(req, res)) return;
    if (/\/\d{8}\/[^/]+\/s3\/aws4_request/.test(String(req.headers.authorization ?? ''))) {
      forwardS3(req, res);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      answer(req, Buffer.concat(chunks)).then(
        (out) => {
          res.writeHead(out.status, out.headers);
          res.end(out.body);
        },
        (err: unknown) => {
          violation(`stand-in crashed on ${req.method} ${req.url}: ${(err as Error).stack}`);
          res.writeHead(500);
          res.end();
        },
      );
    });
  });
  const forwardS3 = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const fault = s3Faults.find((f) => f.method === req.method && f.times > 0);
    if (fault !== undefined) {
      fault.times -= 1;
      req.resume();
      res.writeHead(fault.error.status, { 'content-type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.error.code}</Code><Message>${fault.error.code} (injected by the test)</Message></Error>`);
      return;
    }
    if (req.method === 'PUT' && url.searchParams.has('policy')) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          bucketPolicies.set(url.pathname.split('/')[1] ?? '', JSON.parse(Buffer.concat(chunks).toString('utf8')));
          res.writeHead(204);
        } catch {
          violation('PutBucketPolicy with a policy that is not JSON');
          res.writeHead(400);
        }
        res.end();
      });
      return;
    }
    if (opts.s3 === undefined) {
      violation(`an S3 request ${req.method} ${req.url}, but the stand-in was started without s3rver`);
      res.writeHead(501);
      res.end();
      return;
    }
    const target = new URL(opts.s3.endpoint);
    const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    credentials,
    userArn,
    lambda,
    functionUrls,
    cloudfront,
    acm,
    identity,
    calls,
    violations,
    bucketPolicies,
    failNext(service, operation, error, times = 1) {
      faults.push({ service, operation, error, times });
    },
    failNextS3(method, error, times = 1) {
      s3Faults.push({ method, error, times });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await functionUrls.close();
      if (violations.length > 0) throw new Error(`the AWS stand-in saw requests the model does not allow:\n${violations.join('\n')}`);
    },
  };
}
