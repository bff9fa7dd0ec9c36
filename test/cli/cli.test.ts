import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { announceEdge } from '../../src/edge/presence.js';
import { Store } from '../../src/store/index.js';
import { makeRepo } from '../helpers/git.js';
import { repoRoot, tempDir } from '../helpers/paths.js';
import { edgeGet, startSlipwayProcess, TOKEN, waitFor, type RunningSlipway } from '../helpers/slipway.js';
import { hasScript, json, runCli, runCliTty, type CliOptions } from './run-cli.js';

// The real CLI binary against a real `slipway up`: every command, for people and with --json,
// with the exit codes scripts depend on.
let dir: Awaited<ReturnType<typeof tempDir>>;
let repo: Awaited<ReturnType<typeof makeRepo>>;
let slipway: RunningSlipway;
let app: string;
let env: Record<string, string>;
const cli = (args: string[], opts: CliOptions = {}) => runCli(args, { cwd: app, ...opts, env: { ...env, ...opts.env } });
const served = (host: string, text: string) => waitFor(`${host} to serve ${text}`, async () => ((await edgeGet(slipway.edgePort, host, '/')).text.includes(text) ? true : undefined), 10_000);

before(async () => {
  dir = await tempDir('slipway-cli-');
  repo = await makeRepo(join(dir.path, 'repo'));
  await repo.commit({ 'index.html': '<h1>version one</h1>\n' }, 'first version');
  await repo.push();
  slipway = await startSlipwayProcess(join(dir.path, 'data'));
  app = join(dir.path, 'app');
  await mkdir(join(app, 'sub'), { recursive: true });
  env = { SLIPWAY_URL: slipway.apiUrl, SLIPWAY_TOKEN: TOKEN, XDG_CONFIG_HOME: join(dir.path, 'config') };
});

after(async () => {
  await slipway?.stop();
  await dir?.cleanup();
});

test('every command of the table has --help with usage, examples and exit codes; slipway --help lists them', async () => {
  const { commands } = (await import(join(repoRoot, 'dist', 'src', 'cli', 'commands.js'))) as { commands: Record<string, { hidden?: boolean } | ((argv: string[]) => Promise<void>)> };
  const overview = await cli(['--help']);
  assert.equal(overview.code, 0);
  assert.match(overview.stdout, /Exit codes: 0 ok .* 2 usage .* 3 not found .* 4 auth .* 5 server unreachable/);
  for (const [name, cmd] of Object.entries(commands)) {
    if (typeof cmd === 'function' || cmd.hidden !== true) assert.match(overview.stdout, new RegExp(`^  ${name} `, 'm'), name);
    // a plain handler prints its own help
    if (typeof cmd === 'function') continue;
    for (const args of [
      [name, '--help'],
      ['help', name],
    ]) {
      const help = await cli(args);
      assert.equal(help.code, 0, `${args.join(' ')}: ${help.stderr}`);
      assert.match(help.stdout, new RegExp(`^slipway ${name}: `), name);
      assert.match(help.stdout, /\nUsage:\n {2}slipway /, name);
      assert.match(help.stdout, /\nExamples:\n {2}\S/, name);
      assert.match(help.stdout, /--json/, name);
      assert.match(help.stdout, /Exit codes: 0 ok/, name);
    }
  }
});

test('usage, not-found, auth and unreachable errors have their own exit codes, and --json prints the error as JSON on stderr', async () => {
  const unknown = await cli(['frobnicate', '--json']);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stdout, '');
  assert.equal(JSON.parse(unknown.stderr).error.code, 'USAGE');
  const badFlag = await cli(['ls', '--no-such-flag']);
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.stderr, /Error: Unknown option '--no-such-flag'/);
  const noArg = await cli(['inspect']);
  assert.equal(noArg.code, 2);
  assert.match(noArg.stderr, /Which deployment\?[\s\S]*Hint: Usage: slipway inspect <deployment-id>/);
  const missing = await cli(['inspect', 'dnosuchthing0', '--json']);
  assert.equal(missing.code, 3);
  assert.equal(missing.stdout, '');
  assert.deepEqual(Object.keys(JSON.parse(missing.stderr).error).sort(), ['code', 'hint', 'message']);
  assert.equal(JSON.parse(missing.stderr).error.code, 'DEPLOYMENT_NOT_FOUND');
  const badToken = await cli(['projects', '--token', 'not-the-token']);
  assert.equal(badToken.code, 4);
  assert.match(badToken.stderr, /Error: The API token is not valid/);
  const unreachable = await cli(['projects', '--url', 'http://127.0.0.1:1']);
  assert.equal(unreachable.code, 5);
  assert.match(unreachable.stderr, /Cannot reach Slipway at http:\/\/127\.0\.0\.1:1/);
});

test('projects create and ls for people and scripts; link remembers the project for a folder', async () => {
  const created = await cli(['projects', 'create', 'site', '--repo', repo.url]);
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stdout, /^Created site\. Production will be served at http:\/\/site\.localhost:\d+$/m);
  assert.match(created.stdout, /Secret: +[0-9a-f]{64} +\(shown only now\)/);
  const slow = json(await cli(['projects', 'create', 'slow', '--repo', repo.url, '--build-command', 'sleep 60', '--json']));
  assert.equal(slow.name, 'slow');
  assert.match(slow.webhookSecret, /^[0-9a-f]{64}$/);
  const again = await cli(['projects', 'create', 'site', '--repo', repo.url]);
  assert.equal(again.code, 1, 'the API refused it');
  assert.match(again.stderr, /^Error: .*site/m);

  const piped = await cli(['projects']);
  assert.equal(piped.code, 0);
  assert.match(piped.stdout, new RegExp(`^site\\thttp://site\\.localhost:\\d+\\t\\(not deployed\\)\\t${repo.url}\\tdefault$`, 'm'), 'piped: tab-separated, no header, the team last');
  assert.doesNotMatch(piped.stdout, /NAME/);
  assert.deepEqual(
    json(await cli(['projects', 'ls', '--json']))
      .projects.map((p: { name: string }) => p.name)
      .sort(),
    ['site', 'slow'],
  );

  const ambiguous = await cli(['ls']);
  assert.equal(ambiguous.code, 2);
  assert.match(ambiguous.stderr, /Which project\?[\s\S]*slipway link/);
  const linked = await cli(['link', 'site']);
  assert.equal(linked.code, 0, linked.stderr);
  assert.deepEqual(JSON.parse(await readFile(join(app, '.slipway-project.json'), 'utf8')), { project: 'site', url: slipway.apiUrl });
  const below = await cli(['ls', '--json'], { cwd: join(app, 'sub') });
  assert.equal(below.code, 0, below.stderr);
  assert.deepEqual(json(below), { project: 'site', deployments: [] });
  // a link made against another server is not used for this one
  const elsewhere = await cli(['ls'], { env: { SLIPWAY_URL: `${slipway.apiUrl}/` } });
  assert.equal(elsewhere.code, 0, 'a trailing slash is the same server');
  const other = await runCli(['link', 'site', '--json', '--url', 'http://127.0.0.1:1'], { cwd: join(app, 'sub'), env });
  assert.equal(other.code, 5);
});

let v1: string;
let v2: string;

test('deploy from the linked folder streams the log; ls, inspect and logs in both modes', async () => {
  const first = await cli(['deploy']);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /Packaged 1 file/, 'the build log streams to stdout');
  const ready = /Ready: http:\/\/(d[a-z0-9]{11})--site\.localhost:\d+ \(production\)/.exec(first.stderr);
  assert.ok(ready, first.stderr);
  v1 = ready[1]!;
  await served('site.localhost', 'version one');

  await repo.commit({ 'index.html': '<h1>version two</h1>\n' }, 'second version');
  await repo.push();
  const second = await cli(['deploy', '--json']);
  assert.equal(second.code, 0, second.stderr);
  const d = json(second);
  assert.equal(d.status, 'ready');
  assert.equal(d.isProduction, true);
  v2 = d.id;
  // ready means live: deploy returns once every edge process serves it (liveAt), so one request shows it
  assert.notEqual(d.liveAt, null, 'deploy waited for liveAt');
  assert.ok(Date.parse(d.liveAt) >= Date.parse(d.finishedAt));
  assert.match((await edgeGet(slipway.edgePort, 'site.localhost', '/')).text, /version two/);

  const ls = await cli(['ls']);
  const lines = ls.stdout.trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, new RegExp(`^${v2}\\tready \\(production\\)\\t[0-9a-f]{7}\\t\\S+\\tsecond version$`));
  assert.match(lines[1]!, new RegExp(`^${v1}\\tready\\t`));
  assert.deepEqual(
    json(await cli(['ls', '--json'])).deployments.map((x: { id: string }) => x.id),
    [v2, v1],
  );

  const inspect = await cli(['inspect', v2]);
  assert.match(inspect.stdout, /^status {5}ready \(production\)$/m);
  assert.match(inspect.stdout, new RegExp(`^url {8}http://${v2}--site\\.localhost:\\d+$`, 'm'));
  assert.match(inspect.stdout, /^commit {5}[0-9a-f]{12} second version$/m);
  assert.equal(json(await cli(['inspect', v2, '--json'])).commit.message, 'second version');

  const logs = await cli(['logs', v2]);
  assert.match(logs.stdout, /Packaged 1 file/);
  const logsJson = json(await cli(['logs', v2, '--json']));
  assert.equal(logsJson.status, 'ready');
  assert.ok(logsJson.lines.some((l: { text: string }) => l.text.includes('Packaged')));
  const followed = await cli(['logs', v2, '--follow']);
  assert.equal(followed.code, 0);
  assert.match(followed.stdout, /Packaged 1 file/);
});

test('rollback, promote and cancel move production (or stop a build) and say so', async () => {
  const back = await cli(['rollback']);
  assert.equal(back.code, 0, back.stderr);
  assert.match(back.stdout, new RegExp(`^Rolled back: production of site now serves ${v1} \\([0-9a-f]{7}\\)\\.$`, 'm'));
  await served('site.localhost', 'version one');
  // ready means live: promote returns once every edge process serves the move, so one request shows it
  const promoted = json(await cli(['promote', v2, '--json']));
  assert.equal(promoted.isProduction, true);
  assert.notEqual(promoted.liveAt, null, 'promote waited for liveAt');
  assert.match((await edgeGet(slipway.edgePort, 'site.localhost', '/')).text, /version two/);
  const rolled = json(await cli(['rollback', '--to', v1, '--json']));
  assert.equal(rolled.id, v1);
  assert.notEqual(rolled.liveAt, null, 'rollback waited for liveAt');
  assert.ok(Date.parse(rolled.liveAt) > Date.parse(promoted.liveAt), 'liveAt is of this move, not of when it was live before');
  assert.match((await edgeGet(slipway.edgePort, 'site.localhost', '/')).text, /version one/);

  // an edge process that announced itself but never switches: the CLI says so after its bounded wait
  const store = await Store.openSqlite(join(dir.path, 'data', 'slipway.db'), { migrate: false });
  const silent = await announceEdge({ store, log: () => undefined });
  try {
    const stuck = await cli(['promote', v2], { env: { SLIPWAY_LIVE_WAIT_SECONDS: '1' } });
    assert.equal(stuck.code, 0, stuck.stderr);
    assert.match(stuck.stderr, new RegExp(`Not every edge confirmed serving ${v2} within 1 s; they switch as soon as they can\\.`));
    assert.match(stuck.stdout, new RegExp(`^Production of site now serves ${v2}\\.$`, 'm'));
  } finally {
    await silent.close();
    await store.close();
  }
  await served('site.localhost', 'version two');
  assert.match((await cli(['promote', v1])).stdout, new RegExp(`^Production of site now serves ${v1}\\.$`, 'm'));
  await served('site.localhost', 'version one');

  const queued = json(await cli(['deploy', '--project', 'slow', '--no-follow', '--json']));
  assert.match(queued.id, /^d[a-z0-9]{11}$/);
  const canceled = await cli(['cancel', queued.id]);
  assert.equal(canceled.code, 0, canceled.stderr);
  assert.match(canceled.stdout, new RegExp(`^Canceled ${queued.id}\\.$`, 'm'));
  const follow = await cli(['logs', queued.id, '--follow', '--json']);
  assert.equal(follow.code, 1, 'a build that did not become ready fails the follow');
  assert.equal(json(follow).status, 'canceled');
  const twice = await cli(['cancel', queued.id]);
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /already canceled/);

  assert.equal((await cli(['projects', 'create', 'broken', '--repo', repo.url, '--build-command', 'echo about to fail && exit 3'])).code, 0);
  const failed = await cli(['deploy', '--project', 'broken']);
  assert.equal(failed.code, 1, 'a failed deployment fails the deploy');
  assert.match(failed.stdout, /about to fail/);
  assert.match(failed.stderr, /✗ failed: /);
  const failedJson = await cli(['deploy', '--project', 'broken', '--json']);
  assert.equal(failedJson.code, 1);
  assert.equal(json(failedJson).status, 'failed');
  assert.equal(json(failedJson).error.code, 'BUILD_FAILED');
});

test('env set, ls, import (reporting what changed), pull (--names-only) and rm', async () => {
  assert.match((await cli(['env', 'set', 'ALPHA', 'one'])).stdout, /^Set ALPHA for preview and production\./m);
  await writeFile(join(app, '.env'), '# local settings\nexport BETA="two words"\nALPHA=\'replaced\'\n\nGAMMA=3 # inline comment\n');
  const imported = await cli(['env', 'import', '.env']);
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stdout, /^\+ BETA$/m);
  assert.match(imported.stdout, /^~ ALPHA \(replaced\)$/m);
  assert.match(imported.stdout, /^2 added, 1 replaced\./m);
  await writeFile(join(app, 'more.env'), 'DELTA=4\nGAMMA=33\n');
  assert.deepEqual(json(await cli(['env', 'import', 'more.env', '--target', 'production', '--json'])), { file: 'more.env', added: ['DELTA'], replaced: ['GAMMA'] });
  const broken = await cli(['env', 'import', 'broken.env']);
  assert.equal(broken.code, 2);

  const ls = await cli(['env', 'ls']);
  assert.match(ls.stdout, /^ALPHA\tpreview,production\tupdated /m);
  assert.match(ls.stdout, /^DELTA\tproduction\t/m);
  // GAMMA imported again for production only: preview keeps its first value
  assert.deepEqual(
    json(await cli(['env', 'ls', '--json'])).env.map((v: { key: string; targets: string[] }) => `${v.key} ${v.targets.join(',')}`),
    ['ALPHA preview,production', 'BETA preview,production', 'DELTA production', 'GAMMA preview', 'GAMMA production'],
  );

  const pulled = await cli(['env', 'pull', 'pulled.env', '--names-only']);
  assert.equal(pulled.code, 0, pulled.stderr);
  const text = await readFile(join(app, 'pulled.env'), 'utf8');
  assert.match(text, /^ALPHA=\nBETA=\nDELTA=\nGAMMA=\n$/m);
  for (const secret of ['replaced', 'two words', '33']) assert.equal(text.includes(secret), false, secret);
  assert.equal((await stat(join(app, 'pulled.env'))).mode & 0o777, 0o600);
  const clobber = await cli(['env', 'pull', 'pulled.env']);
  assert.equal(clobber.code, 2, 'an existing file is not overwritten without --yes');
  assert.deepEqual(json(await cli(['env', 'pull', 'pulled.env', '--yes', '--json'])).names, ['ALPHA', 'BETA', 'DELTA', 'GAMMA']);

  assert.deepEqual(json(await cli(['env', 'rm', 'BETA', '--json'])), { removed: 'BETA' });
  assert.equal((await cli(['env', 'rm', 'BETA'])).code, 3);
});

test('domains add, ls and rm for people and scripts', async () => {
  const added = json(await cli(['domains', 'add', 'site', 'cli.example.test', '--json']));
  assert.equal(added.name, 'cli.example.test');
  assert.match((await cli(['domains', 'ls', 'site'])).stdout, /^cli\.example\.test {2}\S+/m);
  assert.deepEqual(
    json(await cli(['domains', 'ls', 'site', '--json'])).domains.map((x: { name: string }) => x.name),
    ['cli.example.test'],
  );
  assert.match((await cli(['domains', 'rm', 'site', 'cli.example.test'])).stdout, /^Removed cli\.example\.test from site/m);
  assert.equal((await cli(['domains', 'rm', 'site', 'cli.example.test'])).code, 3);
  assert.equal((await cli(['domains', 'add', 'site'])).code, 2);
});

test('a stored login is used when no flag or variable says otherwise, and only for its own server', async () => {
  const config = join(dir.path, 'login-config');
  await mkdir(join(config, 'slipway'), { recursive: true });
  const file = join(config, 'slipway', 'auth.json');
  await writeFile(file, JSON.stringify({ url: slipway.apiUrl, token: TOKEN }), { mode: 0o600 });
  const bare = { SLIPWAY_URL: undefined, SLIPWAY_TOKEN: undefined, XDG_CONFIG_HOME: config } as unknown as Record<string, string>;
  const run = (args: string[], extra: Record<string, string> = {}) => runCli(args, { cwd: dir.path, env: { ...bare, ...extra } });
  const viaLogin = await run(['projects', '--json']);
  assert.equal(viaLogin.code, 0, viaLogin.stderr);
  assert.equal(json(viaLogin).projects.length, 3);
  assert.equal((await run(['projects', '--token', 'wrong'])).code, 4, '--token beats the stored login');
  assert.equal((await run(['projects'], { SLIPWAY_TOKEN: 'wrong' })).code, 4, 'SLIPWAY_TOKEN beats the stored login');

  // a login for another server is never sent here: the admin-token file of --data-dir is next
  await writeFile(file, JSON.stringify({ url: 'http://127.0.0.1:1', token: TOKEN }), { mode: 0o600 });
  const notSent = await run(['projects', '--url', slipway.apiUrl]);
  assert.equal(notSent.code, 4);
  assert.match(notSent.stderr, /Not logged in to http:\/\/127\.0\.0\.1:\d+: .*no stored login for it/);
  // what `slipway login` writes: only the owner may read it, and forgetting one server's login leaves another's
  const { saveLogin, storedLogin } = await import(join(repoRoot, 'dist', 'src', 'cli', 'credentials.js'));
  const saved = saveLogin(`${slipway.apiUrl}/`, { token: TOKEN, tokenId: null, email: 'ada@example.com' }, { XDG_CONFIG_HOME: join(dir.path, 'fresh') });
  assert.equal((await stat(saved)).mode & 0o777, 0o600);
  assert.equal((await stat(join(saved, '..'))).mode & 0o777, 0o700);
  assert.equal(storedLogin(slipway.apiUrl, { XDG_CONFIG_HOME: join(dir.path, 'fresh') }).email, 'ada@example.com');
  saveLogin('http://elsewhere.example', undefined, { XDG_CONFIG_HOME: join(dir.path, 'fresh') });
  assert.equal(storedLogin(slipway.apiUrl, { XDG_CONFIG_HOME: join(dir.path, 'fresh') }).token, TOKEN);
  saveLogin(slipway.apiUrl, undefined, { XDG_CONFIG_HOME: join(dir.path, 'fresh') });
  assert.equal(storedLogin(slipway.apiUrl, { XDG_CONFIG_HOME: join(dir.path, 'fresh') }), undefined);

  const local = join(dir.path, 'local-data');
  await mkdir(local);
  await writeFile(join(local, 'admin-token'), `${TOKEN}\n`);
  assert.equal((await run(['projects', '--url', slipway.apiUrl, '--data-dir', local])).code, 0);
});

test('on a terminal: aligned tables with a header, colour unless NO_COLOR', { skip: hasScript ? false : 'util-linux script is not installed' }, async () => {
  const tty = await runCliTty(['ls'], { cwd: app, env });
  assert.equal(tty.code, 0, tty.stdout);
  assert.match(tty.stdout, /ID {12}STATUS/);
  assert.match(tty.stdout, /\x1b\[32mready\x1b\[39m/, 'ready is green');
  const plain = await runCliTty(['ls'], { cwd: app, env: { ...env, NO_COLOR: '1' } });
  assert.match(plain.stdout, /ID {12}STATUS/);
  assert.equal(plain.stdout.includes('\x1b['), false, 'NO_COLOR: no escape sequences');
  const jsonOnTty = await runCliTty(['ls', '--json'], { cwd: app, env });
  assert.equal(jsonOnTty.stdout.includes('\x1b['), false, '--json is never coloured');
  assert.equal(JSON.parse(jsonOnTty.stdout).deployments.length, 2);
});
