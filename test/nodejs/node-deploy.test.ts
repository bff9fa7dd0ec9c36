import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startFixtureApp, type FixtureApp } from '../helpers/fixture-app.js';
import { waitForStatus } from '../helpers/slipway.js';

// Through the whole platform: `slipway up` as a real process, a real push, the worker's build on
// the project's Node.js, the deployment's record of it, and the project setting over the repository.
let app: FixtureApp;

before(async () => {
  app = await startFixtureApp({ fixture: 'node-engines', name: 'nodeeng', versionFile: 'version.js' });
});
after(() => app?.close());

describe('the Node.js a deployment is built on', () => {
  it('is the one engines.node asks for, in the log and in the deployment', async () => {
    const d = await app.deploy('v1');
    const node = d.build.node as { version: string; reason: string };
    assert.match(node.version, /^22\.\d+\.\d+$/);
    assert.equal(node.reason, 'engines.node in package.json: "22.x"');
    assert.ok(
      d.lines.some((l: string) => l.startsWith(`Node.js ${node.version} (engines.node in package.json: "22.x"): `)),
      d.lines.join('\n'),
    );
    assert.ok(d.lines.includes(`build on node v${node.version}`), d.lines.join('\n'));
    const page = await app.get('/');
    assert.equal(page.status, 200);
    assert.equal(page.text, `<p>built on v${node.version}</p>\n`);
  });

  it('follows the project setting nodeVersion over the repository, and refuses one that is no version', async () => {
    const bad = await app.slipway.api('PATCH', '/api/v1/projects/nodeeng', { nodeVersion: 'twenty' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'VALIDATION');
    const set = await app.slipway.api('PATCH', '/api/v1/projects/nodeeng', { nodeVersion: '20' });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal(set.body.nodeVersion, '20');
    const d = await app.deploy('v2');
    const node = d.build.node as { version: string; reason: string };
    assert.match(node.version, /^20\.\d+\.\d+$/);
    assert.equal(node.reason, 'the project setting nodeVersion: "20"');
    assert.ok(d.lines.includes(`build on node v${node.version}`), d.lines.join('\n'));
  });

  it('fails a build whose range no release matches, naming the majors that exist', async () => {
    const set = await app.slipway.api('PATCH', '/api/v1/projects/nodeeng', { nodeVersion: '>=99' });
    assert.equal(set.status, 200);
    const { body } = await app.slipway.api('POST', '/api/v1/projects/nodeeng/deployments', {});
    const d = await waitForStatus(app.slipway, body.id, ['ready', 'failed'], 120_000);
    assert.equal(d.status, 'failed');
    assert.equal(d.error.code, 'BUILD_FAILED');
    assert.match(d.error.message, /No Node\.js release matches: the project setting nodeVersion says ">=99"\. The registry has Node\.js .*\b22, .*\(newest \d+\.\d+\.\d+\)/);
  });
});
