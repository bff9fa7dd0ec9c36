import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';
import { branchTip, fetchSource, redactUrl, resolveRef } from '../../src/source/index.js';
import { AppError } from '../../src/errors/index.js';
import { git, makeRepo } from '../helpers/git.js';
import { tempDir } from '../helpers/paths.js';

describe('source', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let repo: Awaited<ReturnType<typeof makeRepo>>;
  let first: string;
  let second: string;

  before(async () => {
    tmp = await tempDir('slipway-source-');
    repo = await makeRepo(join(tmp.path, 'repo'));
    first = await repo.commit({ 'index.html': '<h1>one</h1>' }, 'First version');
    await git(repo.work, 'tag', '-a', 'v1', '-m', 'release one');
    await git(repo.work, 'tag', 'light');
    second = await repo.commit({ 'index.html': '<h1>two</h1>', 'about.html': 'about' }, 'Second version\n\nwith a body');
    await repo.push();
    await git(repo.work, 'push', '--quiet', 'origin', '--tags');
    await repo.checkout('feature', true);
    await repo.commit({ 'feature.html': 'f' }, 'Feature');
    await repo.push('feature');
  });
  after(() => tmp.cleanup());

  describe('branchTip', () => {
    it("answers the branch's head on the host, null for a branch that is not there, and ignores refs that only end the same", async () => {
      assert.equal(await branchTip(repo.url, 'main'), second);
      assert.equal(await branchTip(repo.url, 'nope'), null);
      // ls-remote matches patterns against the ends of ref names: refs/heads/x/refs/heads/nope would match "refs/heads/nope"
      await git(repo.work, 'push', '--quiet', 'origin', `${first}:refs/heads/x/refs/heads/nope`);
      assert.equal(await branchTip(repo.url, 'nope'), null);
      await git(repo.work, 'push', '--quiet', 'origin', ':refs/heads/x/refs/heads/nope');
    });

    it('fails with SOURCE_UNREACHABLE for a repository that is not there', async () => {
      await assert.rejects(branchTip(`file://${join(tmp.path, 'missing.git')}`, 'main'), (err: unknown) => err instanceof AppError && err.code === 'SOURCE_UNREACHABLE');
    });
  });

  describe('resolveRef', () => {
    it('resolves a branch to its head and names the branch', async () => {
      assert.deepEqual(await resolveRef(repo.url, 'main'), { sha: second, branch: 'main' });
      assert.deepEqual(await resolveRef(repo.url, 'refs/heads/main'), { sha: second, branch: 'main' });
    });

    it('resolves annotated and lightweight tags to the commit', async () => {
      assert.deepEqual(await resolveRef(repo.url, 'v1'), { sha: first });
      assert.deepEqual(await resolveRef(repo.url, 'light'), { sha: first });
    });

    it('passes a full sha through without asking the remote', async () => {
      assert.deepEqual(await resolveRef('file:///nowhere/at/all.git', first.toUpperCase()), { sha: first });
    });

    it('reports an unknown ref as REF_NOT_FOUND', async () => {
      await assert.rejects(resolveRef(repo.url, 'nope'), (err: unknown) => err instanceof AppError && err.code === 'REF_NOT_FOUND' && err.who === 'user');
      await assert.rejects(resolveRef(repo.url, '--upload-pack=evil'), (err: unknown) => err instanceof AppError && err.code === 'REF_NOT_FOUND');
    });

    it('reports an unreachable repository with git stderr', async () => {
      await assert.rejects(resolveRef(`file://${tmp.path}/missing.git`, 'main'), (err: unknown) => {
        assert.ok(err instanceof AppError);
        assert.equal(err.code, 'SOURCE_UNREACHABLE');
        assert.match(err.message, /does not appear to be a git repository/);
        return true;
      });
      await assert.rejects(resolveRef('--upload-pack=touch /tmp/x', 'main'), (err: unknown) => err instanceof AppError && err.code === 'SOURCE_UNREACHABLE');
    });
  });

  describe('fetchSource', () => {
    it('checks out an exact older commit, shallow, not the branch head', async (t) => {
      const dir = join(tmp.path, 'checkout-old');
      const lines: string[] = [];
      const commit = await fetchSource({ repoUrl: repo.url, sha: first, dir, log: (l) => lines.push(l) });
      assert.equal(commit.sha, first);
      assert.equal(commit.message, 'First version');
      assert.equal(commit.authorName, 'Test Author');
      assert.equal(commit.authorEmail, 'author@example.com');
      assert.equal(await readFile(join(dir, 'index.html'), 'utf8'), '<h1>one</h1>');
      await assert.rejects(stat(join(dir, 'about.html')));
      assert.equal(await git(dir, 'rev-parse', 'HEAD'), first);
      assert.equal(await git(dir, 'rev-list', '--count', 'HEAD'), '1', 'shallow: one commit of history');
      assert.ok(lines.length >= 1 && lines.length <= 3, `a line or two of log, got ${JSON.stringify(lines)}`);
      assert.ok(lines.every((l) => !l.includes('\n')));
      t.diagnostic(lines.join(' | '));
    });

    it('can fetch again into the same folder (a retried job)', async () => {
      const dir = join(tmp.path, 'checkout-retry');
      await fetchSource({ repoUrl: repo.url, sha: first, dir, log: () => {} });
      const commit = await fetchSource({ repoUrl: repo.url, sha: second, dir, log: () => {} });
      assert.equal(commit.sha, second);
      assert.equal(await readFile(join(dir, 'about.html'), 'utf8'), 'about');
    });

    it('returns the full commit message', async () => {
      const commit = await fetchSource({ repoUrl: repo.url, sha: second, dir: join(tmp.path, 'checkout-new'), log: () => {} });
      assert.equal(commit.message, 'Second version\n\nwith a body');
    });

    it('reports a sha that is not in the repository as REF_NOT_FOUND', async () => {
      await assert.rejects(
        fetchSource({ repoUrl: repo.url, sha: 'a'.repeat(40), dir: join(tmp.path, 'checkout-missing'), log: () => {} }),
        (err: unknown) => err instanceof AppError && err.code === 'REF_NOT_FOUND',
      );
    });

    it('reports an unreachable repository as SOURCE_UNREACHABLE', async () => {
      await assert.rejects(
        fetchSource({ repoUrl: `file://${tmp.path}/missing.git`, sha: first, dir: join(tmp.path, 'checkout-unreachable'), log: () => {} }),
        (err: unknown) => err instanceof AppError && err.code === 'SOURCE_UNREACHABLE' && /does not appear to be a git repository/.test(err.message),
      );
    });

    it('falls back to a full fetch when the server cannot serve a sha (dumb http)', async (t) => {
      await git(repo.bare, 'update-server-info');
      const server = await serveDirectory(repo.bare);
      t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const lines: string[] = [];
      const dir = join(tmp.path, 'checkout-dumb');
      const commit = await fetchSource({ repoUrl: url, sha: first, dir, log: (l) => lines.push(l) });
      assert.equal(commit.sha, first);
      assert.equal(await readFile(join(dir, 'index.html'), 'utf8'), '<h1>one</h1>');
      assert.ok(
        lines.some((l) => /full history/.test(l)),
        lines.join('\n'),
      );
      t.diagnostic(lines.join(' | '));
    });

    it('stops when aborted', async () => {
      const controller = new AbortController();
      controller.abort(new Error('canceled by test'));
      await assert.rejects(fetchSource({ repoUrl: repo.url, sha: first, dir: join(tmp.path, 'checkout-abort'), log: () => {}, signal: controller.signal }), /canceled by test/);
    });
  });

  it('redacts credentials in URLs', () => {
    assert.equal(redactUrl('https://user:ghp_secret@github.com/a/b.git'), 'https://***@github.com/a/b.git');
    assert.equal(redactUrl('git@github.com:a/b.git'), 'git@github.com:a/b.git');
  });
});

/** A static file server: git's "dumb http" protocol, which cannot fetch by sha nor shallow. */
function serveDirectory(root: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = normalize(join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    if (!path.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    stat(path)
      .then(
        (s) => {
          if (!s.isFile()) throw new Error('not a file');
          res.writeHead(200, { 'content-length': s.size });
          createReadStream(path).pipe(res);
        },
        () => res.writeHead(404).end(),
      )
      .catch(() => res.writeHead(404).end());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
