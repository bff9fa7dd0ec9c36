import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import nodemailer from 'nodemailer';
import { verifySignature } from '../../src/notify/index.js';
import { makeRepo } from '../helpers/git.js';
import { tempDir } from '../helpers/paths.js';
import { edgeGet, startSlipwayProcess, waitFor, type RunningSlipway } from '../helpers/slipway.js';
import { startSmtpSink, type SmtpSink } from '../mail/smtp-sink.js';

// One real `slipway up` (api, worker, edge in one process) with --smtp-url and --smtp-listen:
// a member mails "deploy production", the worker builds a static site, and the webhook hears
// created, building and ready from the worker's own state changes, signed, while the member
// gets the "queued" answer and then the "ready" outcome by mail.

let dir: Awaited<ReturnType<typeof tempDir>>;
let slipway: RunningSlipway;
let sink: SmtpSink;
let hook: Server;
let hookUrl: string;
let secret = '';
const received: Array<{ type: string; body: any; valid: boolean }> = [];

before(async () => {
  dir = await tempDir('slipway-notify-e2e-');
  sink = await startSmtpSink();
  hook = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ type: String(req.headers['slipway-event']), body: JSON.parse(body), valid: verifySignature(secret, body, String(req.headers['slipway-signature'])) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  slipway = await startSlipwayProcess(join(dir.path, 'data'), ['--edge-workers', '0', '--smtp-url', sink.url, '--smtp-listen', '127.0.0.1:0', '--notify-allow', '127.0.0.1']);
});
after(async () => {
  await slipway?.stop();
  await sink?.close();
  hook?.close();
  await dir?.cleanup();
});

test('a mailed "deploy production" builds, goes live, and is announced by webhook and mail', async () => {
  const repo = await makeRepo(join(dir.path, 'repo'));
  const sha = await repo.commit({ 'index.html': '<h1>mailed</h1>\n' }, 'first');
  await repo.push();
  assert.equal((await slipway.api('POST', '/api/v1/teams', { slug: 'acme' })).status, 201);
  assert.equal((await slipway.api('POST', '/api/v1/users', { email: 'mia@example.com', password: 'a long enough password', team: 'acme', role: 'member' })).status, 201);
  assert.equal((await slipway.api('POST', '/api/v1/projects', { name: 'site', repoUrl: repo.url, team: 'acme' })).status, 201);
  const endpoint = await slipway.api('POST', '/api/v1/projects/site/notifications', { kind: 'webhook', url: hookUrl });
  assert.equal(endpoint.status, 201);
  secret = endpoint.body.signingSecret;
  const address = (await slipway.api('POST', '/api/v1/projects/site/mail-address')).body.address as string;
  const port = Number(/Taking mailed deploy commands on 127\.0\.0\.1:(\d+)/.exec(slipway.output())?.[1]);
  assert.ok(port > 0, slipway.output());

  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  await transport.sendMail({ from: 'mia@example.com', to: address, subject: 'deploy production', text: '' });
  transport.close();

  const queued = await sink.waitFor((m) => m.subject === 'Re: deploy production', 30_000);
  const id = /deployment (d[a-z0-9]+) is queued/.exec(queued.text ?? '')?.[1];
  assert.ok(id !== undefined, queued.text);
  const ready = await sink.waitFor((m) => m.subject === `site: deployment ${id} is ready`, 120_000);
  assert.match(ready.text ?? '', new RegExp(`Site: http://${id}--site\\.localhost:${slipway.edgePort}`));
  const page = await edgeGet(slipway.edgePort, 'site.localhost');
  assert.equal(page.body.toString(), '<h1>mailed</h1>\n');

  const types = await waitFor('the ready webhook', async () => {
    const mine = received.filter((r) => r.body.deployment?.id === id).map((r) => r.type);
    return mine.includes('deployment.ready') ? mine : undefined;
  });
  assert.deepEqual([...new Set(types)].sort(), ['deployment.building', 'deployment.created', 'deployment.ready']);
  assert.ok(
    received.every((r) => r.valid),
    'every request was signed with the secret',
  );
  const readyBody = received.find((r) => r.type === 'deployment.ready')!.body;
  assert.equal(readyBody.deployment.commit.sha, sha);
  assert.equal(readyBody.deployment.status, 'ready');
});
