import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { AppError } from '../../src/errors/index.js';

// The mail and notification flags: a bad value stops the start with an example of a good one.

const load = (flags: Record<string, string>, env: Record<string, string> = {}) => loadConfig({ 'data-dir': '/tmp/slipway-never-made', ...flags }, env);
const refused = (flags: Record<string, string>, message: RegExp) =>
  assert.throws(
    () => load(flags),
    (err: unknown) => err instanceof AppError && err.code === 'CONFIG' && message.test(err.message) && /For example: --/.test(err.hint ?? ''),
  );

test('mail flags: defaults, values from flags and SLIPWAY_* variables, and clear refusals', () => {
  const plain = load({});
  assert.deepEqual(plain.mail, { smtpUrl: undefined, from: 'Slipway <slipway@localhost>', listen: undefined, domain: 'localhost' });
  assert.deepEqual(plain.notify.allow, []);
  const set = load({ 'smtp-listen': '[::1]:2525', 'base-domain': 'sites.example.com' }, { SLIPWAY_SMTP_URL: 'smtps://u:p@mail.example.com:465', SLIPWAY_NOTIFY_ALLOW: '10.0.0.7, 10.1.0.0/16,::1' });
  assert.equal(set.mail.smtpUrl, 'smtps://u:p@mail.example.com:465');
  assert.deepEqual(set.mail.listen, { host: '::1', port: 2525 });
  assert.equal(set.mail.domain, 'sites.example.com');
  assert.deepEqual(set.notify.allow, ['10.0.0.7', '10.1.0.0/16', '::1']);
  refused({ 'smtp-url': 'mail.example.com:25' }, /--smtp-url/);
  refused({ 'smtp-listen': '2525' }, /--smtp-listen takes host:port/);
  refused({ 'smtp-listen': '0.0.0.0:99999' }, /--smtp-listen/);
  refused({ 'smtp-from': 'nobody' }, /--smtp-from must be an address/);
  refused({ 'mail-domain': 'not a domain' }, /--mail-domain/);
  refused({ 'notify-allow': '10.0.0.0/33' }, /--notify-allow takes IP addresses or networks/);
  refused({ 'notify-allow': 'intranet.example.com' }, /--notify-allow/);
});
