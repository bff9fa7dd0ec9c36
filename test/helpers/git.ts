import { execFile } from 'node:child_process';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Test Author',
  GIT_AUTHOR_EMAIL: 'author@example.com',
  GIT_COMMITTER_NAME: 'Test Author',
  GIT_COMMITTER_EMAIL: 'author@example.com',
  GIT_TERMINAL_PROMPT: '0',
};

export async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd, env: GIT_ENV, maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

/**
 * A bare repository (what a git host holds) plus a working clone to commit from.
 * `const repo = await makeRepo(dir); await repo.commit({ 'index.html': '<h1>hi</h1>' }, 'first'); await repo.push();`
 */
export async function makeRepo(root: string, branch = 'main') {
  const bare = join(root, 'origin.git');
  const work = join(root, 'work');
  await mkdir(bare, { recursive: true });
  await git(bare, 'init', '--bare', '--quiet', `--initial-branch=${branch}`);
  await mkdir(work, { recursive: true });
  await git(work, 'init', '--quiet', `--initial-branch=${branch}`);
  await git(work, 'remote', 'add', 'origin', bare);
  return {
    bare,
    work,
    url: `file://${bare}`,
    /** Write files (path -> content) and commit them; returns the new commit sha. */
    async commit(files: Record<string, string>, message: string): Promise<string> {
      for (const [path, content] of Object.entries(files)) {
        await mkdir(dirname(join(work, path)), { recursive: true });
        await writeFile(join(work, path), content);
      }
      await git(work, 'add', '-A');
      await git(work, 'commit', '--quiet', '-m', message);
      return git(work, 'rev-parse', 'HEAD');
    },
    /** Copy a fixture folder into the work tree and commit it. */
    async commitFixture(fixture: string, message: string): Promise<string> {
      await cp(fixture, work, { recursive: true });
      await git(work, 'add', '-A');
      await git(work, 'commit', '--quiet', '-m', message);
      return git(work, 'rev-parse', 'HEAD');
    },
    async push(ref = branch): Promise<void> {
      await git(work, 'push', '--quiet', 'origin', `HEAD:refs/heads/${ref}`);
    },
    async checkout(ref: string, create = false): Promise<void> {
      await git(work, 'checkout', '--quiet', ...(create ? ['-b'] : []), ref);
    },
  };
}
