import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, it } from 'node:test';
import { isBlobIntegrityError, sha256 } from '../../src/blobs/index.js';
import { forEachBlobStore, type OpenedBlobStore } from '../helpers/blob-backends.js';
import { tempDir } from '../helpers/paths.js';

async function readAll(stream: Readable | undefined): Promise<Buffer> {
  assert.ok(stream, 'expected a stream');
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

forEachBlobStore('blob store contract', (backend) => {
  let opened: OpenedBlobStore;
  beforeEach(async () => {
    opened = await backend.open();
  });
  afterEach(async () => {
    await opened.cleanup();
  });

  it('stores a blob under its hash and gives back the same bytes', async () => {
    const { store } = opened;
    const bytes = Buffer.from('<h1>hello from a deployment</h1>');
    const hash = sha256(bytes);
    assert.equal(await store.has(hash), false);
    assert.equal(await store.put(hash, bytes), true);
    assert.equal(await store.has(hash), true);
    assert.deepEqual(await store.get(hash), bytes);
    assert.deepEqual(await readAll(await store.stream(hash)), bytes);
  });

  it('a put or putFile of a blob that is already there is a no-op returning false', async () => {
    const { store } = opened;
    const bytes = Buffer.from('same bytes twice');
    const hash = sha256(bytes);
    assert.equal(await store.put(hash, bytes), true);
    assert.equal(await store.put(hash, bytes), false);
    const dir = await tempDir();
    try {
      const file = join(dir.path, 'again');
      await writeFile(file, bytes);
      assert.equal(await store.putFile(hash, file), false);
    } finally {
      await dir.cleanup();
    }
    assert.deepEqual(await store.get(hash), bytes);
  });

  it('stores a 20 MiB file (multipart on S3) and serves whole reads and ranges across part boundaries', async () => {
    const { store } = opened;
    const bytes = randomBytes(20 * 1024 * 1024);
    const hash = sha256(bytes);
    const dir = await tempDir();
    try {
      const file = join(dir.path, 'bundle.tar');
      await writeFile(file, bytes);
      assert.equal(await store.putFile(hash, file), true);
    } finally {
      await dir.cleanup();
    }
    const back = await store.get(hash);
    assert.equal(back?.length, bytes.length);
    assert.equal(sha256(back as Buffer), hash);
    const start = 8 * 1024 * 1024 - 10; // straddles the first 8 MiB part
    const end = 8 * 1024 * 1024 + 99;
    assert.deepEqual(await readAll(await store.stream(hash, { start, end })), bytes.subarray(start, end + 1));
  });

  it('serves byte ranges (inclusive end), the first and the repeated read alike', async () => {
    const { store } = opened;
    const bytes = Buffer.from('0123456789abcdef');
    const hash = sha256(bytes);
    await store.put(hash, bytes);
    assert.equal((await readAll(await store.stream(hash, { start: 2, end: 5 }))).toString(), '2345');
    assert.equal((await readAll(await store.stream(hash, { start: 10, end: 15 }))).toString(), 'abcdef');
    assert.equal((await readAll(await store.stream(hash, { start: 0, end: 0 }))).toString(), '0');
  });

  it('a blob whose stored bytes were changed behind its back fails its integrity check on every read', async () => {
    const { store } = opened;
    const bytes = Buffer.from('the bytes that were deployed');
    const hash = sha256(bytes);
    await store.put(hash, bytes);
    // read once first: a store that remembers a verified blob must still notice the change
    assert.deepEqual(await readAll(await store.stream(hash, { start: 0, end: 3 })), bytes.subarray(0, 4));
    await opened.corrupt(hash, Buffer.from('the bytes an attacker wrote!'));
    await assert.rejects(store.get(hash), isBlobIntegrityError);
    await assert.rejects(store.stream(hash), isBlobIntegrityError);
    await assert.rejects(store.stream(hash, { start: 0, end: 3 }), isBlobIntegrityError);
  });

  it('a missing blob is absent: has false, get and stream undefined', async () => {
    const { store } = opened;
    const hash = sha256('never stored');
    assert.equal(await store.has(hash), false);
    assert.equal(await store.get(hash), undefined);
    assert.equal(await store.stream(hash), undefined);
    assert.equal(await store.stream(hash, { start: 0, end: 1 }), undefined);
  });

  it('lists every stored blob with its size and write time, and deletes one so it is gone for every read', async () => {
    const { store } = opened;
    const before = Date.now() - 5_000; // S3 times have a second's resolution
    const blobs = ['index.html body', 'app.js body, a little longer', 'style.css'].map((text) => Buffer.from(text));
    for (const bytes of blobs) await store.put(sha256(bytes), bytes);
    const listed = new Map<string, { size: number; modifiedAt: number }>();
    for await (const b of store.list()) listed.set(b.hash, b);
    assert.deepEqual([...listed.keys()].sort(), blobs.map((b) => sha256(b)).sort());
    for (const bytes of blobs) {
      const b = listed.get(sha256(bytes));
      assert.equal(b?.size, bytes.length);
      assert.ok(b !== undefined && b.modifiedAt >= before && b.modifiedAt <= Date.now() + 5_000, `modifiedAt ${b?.modifiedAt}`);
    }
    const gone = sha256(blobs[0] as Buffer);
    await store.get(gone); // read once: a store that cached or verified it must forget it too
    assert.equal(await store.delete(gone), true);
    assert.equal(await store.delete(gone), false);
    assert.equal(await store.has(gone), false);
    assert.equal(await store.get(gone), undefined);
    assert.equal(await store.stream(gone), undefined);
    const after: string[] = [];
    for await (const b of store.list()) after.push(b.hash);
    assert.deepEqual(
      after.sort(),
      blobs
        .slice(1)
        .map((b) => sha256(b))
        .sort(),
    );
    // the others are untouched
    assert.deepEqual(await store.get(sha256(blobs[1] as Buffer)), blobs[1]);
  });
});
