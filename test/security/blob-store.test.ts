import assert from 'node:assert/strict';
import { chmod, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, it } from 'node:test';
import { BlobIntegrityError, LocalBlobStore, sha256 } from '../../src/blobs/index.js';
import { tempDir } from '../helpers/paths.js';

// The embedded blob store: read-only blobs, and reads that refuse bytes that changed.

let tmp: Awaited<ReturnType<typeof tempDir>>;
before(async () => {
  tmp = await tempDir('slipway-blobs-');
});
after(() => tmp.cleanup());

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

it('stores blobs read-only, whether put from memory or from a file', async () => {
  const blobs = new LocalBlobStore(join(tmp.path, 'a'));
  const inMemory = Buffer.from('from memory');
  await blobs.put(sha256(inMemory), inMemory);
  const file = join(tmp.path, 'exec.sh');
  await writeFile(file, '#!/bin/sh\necho hi\n', { mode: 0o755 });
  const fromFile = sha256('#!/bin/sh\necho hi\n');
  await blobs.putFile(fromFile, file);
  for (const hash of [sha256(inMemory), fromFile]) assert.equal((await stat(blobs.pathOf(hash))).mode & 0o777, 0o444, hash);
});

it('get and stream refuse a blob whose bytes changed, before handing out a byte', async () => {
  const blobs = new LocalBlobStore(join(tmp.path, 'b'));
  const body = Buffer.alloc(3 * 1024 * 1024, 'abc');
  const hash = sha256(body);
  await blobs.put(hash, body);
  assert.equal(sha256((await blobs.get(hash))!), hash);
  // concurrent first streams share one hash of the file and all get the right bytes
  const streams = await Promise.all([blobs.stream(hash), blobs.stream(hash), blobs.stream(hash, { start: 10, end: 19 })]);
  assert.equal(sha256(await readAll(streams[0]!)), hash);
  assert.equal(sha256(await readAll(streams[1]!)), hash);
  assert.equal((await readAll(streams[2]!)).toString(), body.subarray(10, 20).toString());

  // same size, one byte changed, after the blob was verified once
  const changed = Buffer.from(body);
  changed[1_000_000] = 0x5a;
  await chmod(blobs.pathOf(hash), 0o644);
  await writeFile(blobs.pathOf(hash), changed);
  await assert.rejects(blobs.get(hash), (err: unknown) => err instanceof BlobIntegrityError && err.hash === hash && err.actual === sha256(changed));
  await assert.rejects(blobs.stream(hash), BlobIntegrityError);
  await assert.rejects(blobs.stream(hash, { start: 0, end: 9 }), BlobIntegrityError, 'a range of a changed blob is refused too');
  assert.equal(await blobs.get(sha256('absent')), undefined);
  assert.equal(await blobs.stream(sha256('absent')), undefined);
});
