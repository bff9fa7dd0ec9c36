import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { MASK, readMaskedLines, SecretMasker } from '../../src/masking/index.js';

// Property-style tests of the streaming masker: random values, random texts made of values,
// pieces of values and noise, random chunkings. The properties: no 8-character piece of a
// value survives, and the output never depends on where the chunks were cut.

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=+/.:@';

function randomString(length: number, alphabet = ALPHABET): string {
  let s = '';
  for (let i = 0; i < length; i += 1) s += alphabet[randomInt(alphabet.length)];
  return s;
}

/** every piece of `value` of `min` or more characters that appears in `text` */
function leakedPieces(text: string, value: string, min = 8): string[] {
  const found: string[] = [];
  for (let i = 0; i + min <= value.length; i += 1) {
    const piece = value.slice(i, i + min);
    if (text.includes(piece)) found.push(piece);
  }
  return found;
}

/** noise, whole values, pieces of values (at least 8 characters), line breaks, in random order */
function hostileText(values: string[], parts = 40): string {
  let text = '';
  for (let i = 0; i < parts; i += 1) {
    const v = values[randomInt(values.length)]!;
    const kind = randomInt(6);
    if (kind === 0) text += v;
    else if (kind === 1 && v.length >= 8) {
      const from = randomInt(v.length - 7);
      text += v.slice(from, from + 8 + randomInt(v.length - from - 7));
    } else if (kind === 2) text += ['\n', '\r\n', '\r', ' '][randomInt(4)];
    else text += randomString(randomInt(30));
  }
  return text;
}

function chunked(masker: SecretMasker, text: string, cuts: number[]): string {
  const s = masker.stream();
  let out = '';
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    out += s.write(text.slice(from, cut));
    from = cut;
  }
  return out + s.write(text.slice(from)) + s.end();
}

test('no piece of 8+ characters of a value survives, in any chunking, and the output does not depend on the chunking', () => {
  for (let round = 0; round < 200; round += 1) {
    const values = Array.from({ length: 1 + randomInt(3) }, () => randomString(8 + randomInt(40)));
    const masker = new SecretMasker(values);
    const text = hostileText(values);
    const whole = masker.mask(text);
    for (const v of values) assert.deepEqual(leakedPieces(whole, v), [], `round ${round}: ${JSON.stringify({ v, text, whole })}`);
    const cuts = Array.from({ length: randomInt(20) }, () => randomInt(text.length + 1));
    assert.equal(chunked(masker, text, cuts), whole, `round ${round}: random chunks`);
  }
});

test('one character at a time, and a split at every offset, give the same masked text', () => {
  const value = randomBytes(24).toString('base64url');
  const masker = new SecretMasker([value, 'abcd']);
  const text = `token=${value} and again ${value.slice(0, 12)}\n${value.slice(5)} end abcd.`;
  const whole = masker.mask(text);
  assert.equal(whole, `token=${MASK} and again ${MASK}\n${MASK} end ${MASK}.`);
  assert.equal(
    chunked(
      masker,
      text,
      Array.from({ length: text.length }, (_, i) => i),
    ),
    whole,
  );
  for (let at = 0; at <= text.length; at += 1) assert.equal(chunked(masker, text, [at]), whole, `split at ${at}`);
});

test('a stream holds back at most 7 characters, and nothing after a line break', () => {
  const value = randomString(64);
  const masker = new SecretMasker([value]);
  const s = masker.stream();
  const noise = randomString(5000, 'xyz ');
  assert.equal(s.write(noise), noise.slice(0, noise.length - 7));
  assert.equal(s.write('line\n'), `${noise.slice(-7)}line\n`, 'a finished line is released at once');
  assert.equal(s.write(value.slice(0, 30)), MASK, 'a value being printed is masked as it comes');
  assert.equal(s.write(value.slice(30)), '', 'the rest of the same value joins the same mask');
  assert.equal(s.end(), '');
});

test('text without values passes through unchanged; short values (4-7) are masked whole, shorter ones not', () => {
  const plain = new SecretMasker([]);
  assert.equal(plain.stream().write('anything'), 'anything');
  const masker = new SecretMasker(['abc', 'wxyz42', '']);
  assert.equal(masker.mask('abc wxyz42 wxyz4'), `abc ${MASK} wxyz4`);
});

test('a multi-line value (a PEM key) is masked a line at a time', () => {
  const lines = Array.from({ length: 4 }, () => randomString(64));
  const pem = `-----BEGIN KEY-----\n${lines.join('\n')}\n-----END KEY-----\n`;
  const masker = new SecretMasker([pem]);
  const out = masker.mask(`key:\n${lines.map((l) => `  ${l}`).join('\r\n')}\n`);
  for (const l of lines) assert.deepEqual(leakedPieces(out, l), []);
});

test('readMaskedLines: lines longer than any cut, value split across chunks and \\r\\n split across chunks', async () => {
  const value = randomBytes(30).toString('hex');
  const masker = new SecretMasker([value]);
  const lines: string[] = [];
  const long = `${'x'.repeat(1995)}${value}${'y'.repeat(8000)}`;
  const text = `first ${value}\r\n${long}\nlast`;
  const exact = new PassThrough();
  readMaskedLines(exact, masker, (l) => lines.push(l.slice(0, 2000)));
  const cut = text.indexOf('\r') + 1;
  exact.write(Buffer.from(text.slice(0, cut)));
  exact.write(Buffer.from(text.slice(cut, 2100)));
  exact.end(Buffer.from(text.slice(2100)));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(lines, [`first ${MASK}`, `${'x'.repeat(1995)}${MASK}${'y'.repeat(2)}`, 'last']);
});
