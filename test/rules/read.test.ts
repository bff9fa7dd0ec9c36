import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AppError } from '../../src/errors/index.js';
import { readSiteRules } from '../../src/rules/index.js';
import { tempDir } from '../helpers/paths.js';

// Reading the rules at deploy time from a checkout the repository controls: real files, real symlinks.
describe('readSiteRules', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let n = 0;
  const lines: string[] = [];
  before(async () => {
    tmp = await tempDir('slipway-rules-read-');
  });
  after(async () => tmp?.cleanup());

  /** a checkout with `files` (path -> text, or {link: target}); output = "<checkout>/out" */
  async function checkout(files: Record<string, string | { link: string }>) {
    const dir = join(tmp.path, `c${n++}`);
    await mkdir(join(dir, 'out'), { recursive: true });
    for (const [path, value] of Object.entries(files)) {
      await mkdir(join(dir, path, '..'), { recursive: true });
      if (typeof value === 'string') await writeFile(join(dir, path), value);
      else await symlink(value.link, join(dir, path));
    }
    return { checkout: dir, outputDir: join(dir, 'out'), log: (l: string) => lines.push(l) };
  }
  const rejects = (promise: Promise<unknown>, message: RegExp) => assert.rejects(promise, (err: unknown) => err instanceof AppError && err.code === 'SITE_RULES' && message.test(err.message));

  it('reads vercel.json at the root directory and the Netlify files in the output, and says so in the log', async () => {
    const v = await readSiteRules({ ...(await checkout({ 'apps/web/vercel.json': '{"redirects":[{"source":"/a","destination":"/b"}]}' })), rootDirectory: 'apps/web' });
    assert.equal(v?.platform, 'vercel');
    assert.equal(v?.routes.length, 1);
    assert.ok(lines.includes('Site rules: 1 from vercel.json'));
    const nl = await readSiteRules({ ...(await checkout({ 'out/_redirects': '/a /b\n', 'out/_headers': '/*\n  X-A: 1\n' })), rootDirectory: '' });
    assert.equal(nl?.platform, 'netlify');
    assert.deepEqual(
      nl?.routes.map((r) => r.kind),
      ['redirect', 'headers'],
    );
    assert.equal(await readSiteRules({ ...(await checkout({ 'vercel.json': '{"framework":"vite"}' })), rootDirectory: '' }), undefined);
  });
  it('does not follow a symlink out of the checkout or the output', async () => {
    await writeFile(join(tmp.path, 'outside.json'), '{"redirects":[{"source":"/a","destination":"/b"}]}');
    await writeFile(join(tmp.path, 'outside-redirects'), '/a /b\n');
    const files = { 'vercel.json': { link: join(tmp.path, 'outside.json') }, 'out/_redirects': { link: '../../outside-redirects' } };
    assert.equal(await readSiteRules({ ...(await checkout(files)), rootDirectory: '' }), undefined);
  });
  it('fails with SITE_RULES: a bad rule, both kinds at once, an oversized file', async () => {
    await rejects(readSiteRules({ ...(await checkout({ 'out/_headers': '/a\n  Bad Header: 1\n' })), rootDirectory: '' }), /^Bad site rule: _headers line 2: "Bad Header" is not a valid header name$/);
    await rejects(readSiteRules({ ...(await checkout({ 'vercel.json': '{"cleanUrls":true}', 'out/_redirects': '/a /b\n' })), rootDirectory: '' }), /both vercel\.json and _redirects/);
    await rejects(readSiteRules({ ...(await checkout({ 'out/_redirects': `/a /b\n${'#'.repeat(1024 * 1024)}` })), rootDirectory: '' }), /_redirects is \d+ bytes; at most 1048576/);
  });
});
