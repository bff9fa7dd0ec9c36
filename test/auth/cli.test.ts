import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { repoRoot, tempDir } from '../helpers/paths.js';
import { startSlipwayProcess, TOKEN, type RunningSlipway } from '../helpers/slipway.js';

// The real `slipway` binary against a real `slipway up` (api role), as a person would use it.
let dir: Awaited<ReturnType<typeof tempDir>>;
let slipway: RunningSlipway;
let configDir: string;

before(async () => {
  dir = await tempDir('slipway-cli-auth-');
  configDir = join(dir.path, 'config');
  slipway = await startSlipwayProcess(join(dir.path, 'data'), ['--roles', 'api']);
});
after(async () => {
  await slipway?.stop();
  await dir?.cleanup();
});

/** Run the CLI; env without SLIPWAY_TOKEN unless given, so the stored login is what it uses. */
function cli(args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: dir.path,
    SLIPWAY_URL: slipway.apiUrl,
    SLIPWAY_CONFIG_DIR: configDir,
    SLIPWAY_DATA_DIR: join(dir.path, 'nowhere'),
    ...opts.env,
  };
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'slipway.js'), ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin.end(opts.stdin ?? '');
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

test('a first start with no accounts says how to make the first owner', () => {
  assert.match(slipway.output(), /No accounts yet\. Make the first owner: .*slipway users create --email .* --password-stdin --team default --role owner/);
});

test('users create, login, whoami, teams, tokens, members, audit, logout', async () => {
  const made = await cli(['users', 'create', '--email', 'ada@example.com', '--password-stdin', '--team', 'default', '--role', 'owner', '--json'], {
    stdin: 'correct horse battery\n',
    env: { SLIPWAY_TOKEN: TOKEN },
  });
  assert.equal(made.code, 0, made.stderr);
  assert.equal(JSON.parse(made.stdout).email, 'ada@example.com');

  const bad = await cli(['login', '--email', 'ada@example.com', '--password-stdin'], { stdin: 'wrong horse\n' });
  assert.equal(bad.code, 4, 'exit code 4: not authenticated');
  assert.match(bad.stderr, /Error: Wrong email or password\./);

  const login = await cli(['login', '--email', 'ada@example.com', '--password-stdin'], { stdin: 'correct horse battery\n' });
  assert.equal(login.code, 0, login.stderr);
  assert.match(login.stdout, /Logged in to .* as ada@example\.com/);
  const file = join(configDir, 'auth.json');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const stored = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(stored.url, slipway.apiUrl);
  assert.match(stored.token, /^slp_pat_/);
  assert.equal(JSON.stringify(stored).includes('correct horse'), false, 'the password is not stored');

  const who = await cli(['whoami', '--json']);
  assert.equal(who.code, 0, who.stderr);
  assert.deepEqual(JSON.parse(who.stdout).teams, [{ slug: 'default', name: 'Default', role: 'owner' }]);
  assert.match((await cli(['whoami'])).stdout, /^ada@example\.com\n {2}default\towner/);

  assert.equal((await cli(['teams', 'create', 'studio'])).code, 0);
  assert.deepEqual(
    JSON.parse((await cli(['teams', '--json'])).stdout).teams.map((t: any) => t.slug),
    ['default', 'studio'],
  );
  // an empty team can go; one with projects says which
  assert.equal((await cli(['teams', 'create', 'short-lived'])).code, 0);
  const removed = await cli(['teams', 'rm', 'short-lived']);
  assert.equal(removed.code, 0, removed.stderr);
  assert.match(removed.stdout, /^Deleted team short-lived\.$/m);
  assert.deepEqual(
    JSON.parse((await cli(['teams', '--json'])).stdout).teams.map((t: any) => t.slug),
    ['default', 'studio'],
  );

  const project = await slipway.api('POST', '/api/v1/projects', { name: 'blog', repoUrl: 'file:///nowhere', team: 'studio' });
  assert.equal(project.status, 201);
  const busy = await cli(['teams', 'rm', 'studio', '--json']);
  assert.equal(busy.code, 1, 'a team with projects stays');
  assert.match(busy.stderr, /still has projects: blog/);
  const ci = await cli(['tokens', 'create', 'ci', '--project', 'blog']);
  assert.equal(ci.code, 0, ci.stderr);
  const deployToken = ci.stdout.split('\n')[0]!;
  assert.match(deployToken, /^slp_dpl_/);
  const listed = JSON.parse((await cli(['tokens', '--json'])).stdout).tokens;
  const ciRow = listed.find((t: any) => t.name === 'ci');
  assert.equal(ciRow.project, 'blog');
  assert.equal((await cli(['tokens'])).stdout.includes(deployToken), false, 'listing never shows a secret');
  // the deploy token works for its project, and not after rm
  assert.equal((await fetch(`${slipway.apiUrl}/api/v1/projects/blog`, { headers: { authorization: `Bearer ${deployToken}` } })).status, 200);
  assert.equal((await cli(['tokens', 'rm', ciRow.id])).code, 0);
  assert.equal((await fetch(`${slipway.apiUrl}/api/v1/projects/blog`, { headers: { authorization: `Bearer ${deployToken}` } })).status, 401);

  assert.equal((await cli(['users', 'create', '--email', 'bob@example.com', '--password-stdin'], { stdin: 'bob password is long', env: { SLIPWAY_TOKEN: TOKEN } })).code, 0);
  assert.equal((await cli(['members', 'add', 'bob@example.com', '--role', 'viewer', '--team', 'studio'])).code, 0);
  assert.match((await cli(['members', '--team', 'studio'])).stdout, /bob@example\.com\tviewer/);
  assert.equal((await cli(['members', 'set', 'bob@example.com', '--role', 'member', '--team', 'studio'])).code, 0);
  assert.equal((await cli(['members', 'rm', 'bob@example.com', '--team', 'studio'])).code, 0);
  const audit = JSON.parse((await cli(['audit', '--team', 'studio', '--json'])).stdout);
  assert.deepEqual(
    audit.events.slice(0, 3).map((e: any) => e.action),
    ['member.remove', 'member.update', 'member.add'],
  );
  assert.match((await cli(['audit', '--team', 'studio'])).stdout, /ada@example\.com\tmember\.remove\tbob@example\.com/);

  const out = await cli(['logout']);
  assert.equal(out.code, 0);
  // the token login made is revoked on the server, and the CLI has none any more
  assert.equal((await fetch(`${slipway.apiUrl}/api/v1/me`, { headers: { authorization: `Bearer ${stored.token}` } })).status, 401);
  const after = await cli(['whoami']);
  assert.equal(after.code, 4, 'exit code 4: not authenticated');
  assert.match(after.stderr, /Not logged in to /);

  // --token stores a token given (here the admin's)
  const withToken = await cli(['login', '--token', TOKEN]);
  assert.equal(withToken.code, 0, withToken.stderr);
  assert.match((await cli(['whoami'])).stdout, /Installation admin \(installation admin\)/);
});

test('env pull: a member gets the values (they import back unchanged), a viewer names only; each read is audited', async () => {
  const admin = { SLIPWAY_TOKEN: TOKEN };
  assert.equal((await cli(['teams', 'create', 'pulls'], { env: admin })).code, 0);
  assert.equal((await cli(['projects', 'create', 'pulled', '--repo', 'file:///nowhere', '--team', 'pulls'], { env: admin })).code, 0);
  const tricky = 'a "quoted" value with spaces, a # and a\\backslash\nand a second line';
  for (const [key, value] of [
    ['PLAIN', 'https://api.example.com/v1'],
    ['TRICKY', tricky],
  ] as const) {
    assert.equal((await cli(['env', 'set', key, '--project', 'pulled'], { stdin: value, env: admin })).code, 0);
  }
  assert.equal((await cli(['env', 'set', 'MOCKS', 'on', '--project', 'pulled', '--target', 'preview'], { env: admin })).code, 0);
  for (const [email, role] of [
    ['mia@example.com', 'member'],
    ['vic@example.com', 'viewer'],
  ] as const) {
    assert.equal((await cli(['users', 'create', '--email', email, '--password-stdin', '--team', 'pulls', '--role', role], { stdin: 'a long enough password\n', env: admin })).code, 0);
  }
  const tokenOf = async (email: string) => {
    const home = join(dir.path, email);
    const login = await cli(['login', '--email', email, '--password-stdin'], { stdin: 'a long enough password\n', env: { SLIPWAY_CONFIG_DIR: home } });
    assert.equal(login.code, 0, login.stderr);
    return { SLIPWAY_CONFIG_DIR: home };
  };

  const member = await tokenOf('mia@example.com');
  const file = join(dir.path, 'member.env');
  const pulled = await cli(['env', 'pull', file, '--project', 'pulled'], { env: member });
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.match(pulled.stdout, /Wrote 2 variables with their values/);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const text = readFileSync(file, 'utf8');
  assert.match(text, /^PLAIN=https:\/\/api\.example\.com\/v1$/m, 'production values by default');
  // the file imports back into another project with the same values
  assert.equal((await cli(['projects', 'create', 'copy', '--repo', 'file:///nowhere', '--team', 'pulls'], { env: admin })).code, 0);
  assert.equal((await cli(['env', 'import', file, '--project', 'copy'], { env: member })).code, 0);
  const again = join(dir.path, 'copy.env');
  assert.equal((await cli(['env', 'pull', again, '--project', 'copy'], { env: member })).code, 0);
  assert.equal(readFileSync(again, 'utf8').split('\n').slice(1).join('\n'), text.split('\n').slice(1).join('\n'));
  const preview = await cli(['env', 'pull', join(dir.path, 'preview.env'), '--project', 'pulled', '--target', 'preview', '--json'], { env: member });
  assert.equal(JSON.parse(preview.stdout).values, true);
  assert.match(readFileSync(join(dir.path, 'preview.env'), 'utf8'), /^MOCKS=on$/m);
  assert.doesNotMatch(text, /MOCKS/, 'a preview-only variable is not in the production file');

  const viewer = await tokenOf('vic@example.com');
  const viewed = await cli(['env', 'pull', join(dir.path, 'viewer.env'), '--project', 'pulled'], { env: viewer });
  assert.equal(viewed.code, 0, viewed.stderr);
  assert.match(viewed.stdout, /names.*your role may read names, not values/);
  const names = readFileSync(join(dir.path, 'viewer.env'), 'utf8');
  assert.match(names, /^PLAIN=$/m);
  assert.doesNotMatch(names, /example\.com|quoted/);

  const trail = JSON.parse((await cli(['audit', '--team', 'pulls', '--json'], { env: admin })).stdout) as { events: { action: string; actor: { email: string | null } }[] };
  const pulls = trail.events.filter((e) => e.action === 'env.pull');
  assert.equal(pulls.length, 3, 'two pulls of "pulled" and one of "copy" by the member; the viewer read nothing');
});
