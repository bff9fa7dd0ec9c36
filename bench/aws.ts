/**
 * `npm run bench -- aws`: the Next.js fixture pushed to one project on Slipway's edge and to one
 * on the AWS target (the model-checking stand-in for Lambda and CloudFront, s3rver for S3), both
 * through a real `slipway up` (api + worker): each recorded step's time side by side, the edge's
 * as the reference. Then a redeploy of the AWS project with one page changed: what it uploaded
 * (assets to S3, copied or skipped when unchanged; the function zips, which Lambda takes whole).
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAwsStandIn } from '../test/helpers/aws/index.js';
import { makeRepo } from '../test/helpers/git.js';
import { fixturesDir } from '../test/helpers/paths.js';
import { startS3rver } from '../test/helpers/s3rver.js';
import { type RunningSlipway, startSlipwayProcess, waitForStatus } from '../test/helpers/slipway.js';

const ROLE = 'arn:aws:iam::123456789012:role/slipway-bench';
const s = (msValue: number | undefined) => (msValue === undefined ? undefined : msValue / 1000);

interface AwsStepOut {
  name: string;
  ms: number;
  detail?: Record<string, number>;
}

async function deploy(slipway: RunningSlipway, project: string): Promise<{ d: any; steps: AwsStepOut[] }> {
  const made = await slipway.api('POST', `/api/v1/projects/${project}/deployments`, { ref: 'main' });
  if (made.status !== 201 && made.status !== 202) throw new Error(JSON.stringify(made.body));
  const d = await waitForStatus(slipway, made.body.id, ['ready', 'failed'], 900_000);
  if (d.status !== 'ready') throw new Error(`${project}: ${JSON.stringify(d.error)}\n${slipway.output().slice(-4000)}`);
  const aws = await slipway.api('GET', `/api/v1/deployments/${d.id}/aws`);
  return { d, steps: aws.status === 200 ? (aws.body.aws?.steps ?? []) : [] };
}

export async function run() {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-aws-'));
  const s3 = await startS3rver();
  const aws = await startAwsStandIn({ s3 });
  let slipway: RunningSlipway | undefined;
  try {
    const repo = await makeRepo(join(dir, 'repo'));
    await repo.commitFixture(join(fixturesDir, 'next-app'), 'fixture');
    await repo.push();
    slipway = await startSlipwayProcess(join(dir, 'data'), ['--roles', 'api,worker'], { SLIPWAY_AWS_ENDPOINT: aws.endpoint, SLIPWAY_AWS_S3_ENDPOINT: aws.endpoint });
    await slipway.api('POST', '/api/v1/teams', { slug: 'bench' });
    for (const name of ['on-edge', 'on-aws']) await slipway.api('POST', '/api/v1/projects', { name, repoUrl: repo.url, team: 'bench' });
    await slipway.api('PUT', '/api/v1/teams/bench/aws', { region: 'eu-west-1', ...aws.credentials });
    const target = await slipway.api('PUT', '/api/v1/projects/on-aws/target', { target: 'aws', resources: { functionRoleArn: ROLE } });
    if (target.status !== 200) throw new Error(JSON.stringify(target.body));

    const edge = await deploy(slipway, 'on-edge');
    const first = await deploy(slipway, 'on-aws');
    const et = edge.d.timings ?? {};
    const at = first.d.timings ?? {};
    const step = (name: string) => first.steps.find((x) => x.name === name)?.ms;
    const publish = (step('publish-server') ?? 0) + (step('publish-image') ?? 0);
    const aliasMove = (step('go-live') ?? 0) + (step('invalidate') ?? 0);
    const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? undefined : a / b);
    const rows: Record<string, string | number | undefined>[] = [
      { step: 'fetch', 'edge s': s(et.fetchMs), 'aws s': s(at.fetchMs), 'aws / edge': ratio(at.fetchMs, et.fetchMs) },
      { step: 'install', 'edge s': s(et.installMs), 'aws s': s(at.installMs), 'aws / edge': ratio(at.installMs, et.installMs) },
      { step: 'build (edge: next build; aws: OpenNext, incl. next build)', 'edge s': s(et.buildMs), 'aws s': s(at.buildMs), 'aws / edge': ratio(at.buildMs, et.buildMs) },
      { step: 'package into the blob store', 'edge s': s(et.packageMs), 'aws s': s(at.packageMs), 'aws / edge': ratio(at.packageMs, et.packageMs) },
      { step: 'edge: SSR health check', 'edge s': s(et.healthCheckMs), 'aws s': undefined },
      { step: 'aws: resources (first deploy: bucket, OAC, functions)', 'aws s': s(step('resources')) },
      { step: 'aws: upload assets to S3', 'aws s': s(step('upload')) },
      { step: 'aws: publish (code, environment, version; both functions)', 'aws s': s(publish) },
      { step: 'aws: alias move (+ distribution, invalidation)', 'aws s': s(aliasMove) },
      { step: 'total', 'edge s': s(et.totalMs), 'aws s': s(at.totalMs), 'aws / edge': ratio(at.totalMs, et.totalMs) },
    ];

    // one page changed: the static home page's heading
    const page = (await readFile(join(fixturesDir, 'next-app', 'app', 'page.js'), 'utf8')).replace('Static page', 'Static home page');
    await repo.commit({ 'app/page.js': page }, 'one page changed');
    await repo.push();
    const zipsBefore = zipBytes(aws);
    const second = await deploy(slipway, 'on-aws');
    const upload = second.steps.find((x) => x.name === 'upload')?.detail ?? {};
    const firstUpload = first.steps.find((x) => x.name === 'upload')?.detail ?? {};
    const zipsAfter = zipBytes(aws);
    rows.push(
      { step: 'first deploy: asset objects uploaded', 'aws s': undefined, objects: firstUpload.uploaded, bytes: firstUpload.uploadedBytes },
      { step: 'redeploy (one page changed): asset objects uploaded', objects: upload.uploaded, bytes: upload.uploadedBytes },
      { step: '  copied in S3 from the previous deployment', objects: upload.copied },
      { step: '  already there (fingerprinted, skipped)', objects: upload.skipped },
      { step: '  function zips uploaded (those whose bytes changed, whole)', objects: zipsAfter.count - zipsBefore.count, bytes: zipsAfter.bytes - zipsBefore.bytes },
      { step: 'redeploy total', 'aws s': s(second.d.timings?.totalMs) },
    );
    return {
      title: "The Next.js fixture deployed to the AWS target (stand-in + s3rver) next to Slipway's edge, one run",
      rows,
      notes: [
        'Both through a real `slipway up --roles api,worker`; each from an empty package cache of its project (npm ci from the registry).',
        'AWS step times are against the local stand-in and s3rver: they count requests and bytes, not AWS latency (CloudFront deploys in minutes there).',
        'The edge also packages the standalone server and starts it for a health check; on AWS the server runs on Lambda instead.',
      ],
    };
  } finally {
    await slipway?.stop();
    await aws.close().catch(() => {});
    await s3.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every function zip sent to the stand-in so far (CreateFunction, UpdateFunctionCode): their count and bytes. */
function zipBytes(aws: Awaited<ReturnType<typeof startAwsStandIn>>): { count: number; bytes: number } {
  let count = 0;
  let bytes = 0;
  for (const call of aws.calls) {
    const zip = call.operation === 'CreateFunction' ? (call.input.Code as { ZipFile?: unknown } | undefined)?.ZipFile : call.operation === 'UpdateFunctionCode' ? call.input.ZipFile : undefined;
    if (!Buffer.isBuffer(zip)) continue;
    count += 1;
    bytes += zip.length;
  }
  return { count, bytes };
}
