import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { createRfc2136Provider, findZone, signMessage, txtValues, verifyResponse } from '../../src/acme/index.js';
import { CLASS, TYPE, decodeMessage, encodeTxt, encodeUpdate } from '../../src/acme/dns/message.js';
import { exchange } from '../../src/acme/dns/transport.js';
import { startBind, type RunningBind } from '../helpers/bind.js';

const missing = ['named', 'dig'].filter((bin) => spawnSync('which', [bin]).status !== 0);
const skip = missing.length > 0 ? `needs ${missing.join(' and ')} (bind9, bind9-dnsutils)` : false;
if (skip !== false) console.log(`# skipping RFC 2136 tests: ${skip}`);

/** What a resolver sees, asked with dig (not our own parser), so the tests check the real effect. */
function dig(dns: RunningBind, name: string, type = 'TXT'): string[] {
  const out = execFileSync('dig', ['+short', '+norecurse', '-p', String(dns.port), '@127.0.0.1', name, type], { encoding: 'utf8', timeout: 10_000 });
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^"|"$/g, ''));
}

describe('DNS-01 through RFC 2136 updates signed with TSIG, against a real BIND 9', { skip }, () => {
  let dns: RunningBind;
  before(async () => {
    dns = await startBind([{ name: 'acme.test', records: [{ name: 'www', type: 'A', value: '127.0.0.1' }] }]);
  });
  after(async () => dns?.close());

  it('adds a TXT record next to others, waits until the server answers it, and removes exactly that one', async () => {
    const provider = createRfc2136Provider({ server: dns.address, zone: 'acme.test', key: dns.tsig });
    await provider.present('_acme-challenge.www.acme.test', 'first-value');
    await provider.present('_acme-challenge.www.acme.test', 'second-value');
    assert.deepEqual(dig(dns, '_acme-challenge.www.acme.test').sort(), ['first-value', 'second-value']);
    await provider.cleanup('_acme-challenge.www.acme.test', 'first-value');
    assert.deepEqual(dig(dns, '_acme-challenge.www.acme.test'), ['second-value']);
    await provider.cleanup('_acme-challenge.www.acme.test', 'second-value');
    assert.deepEqual(dig(dns, '_acme-challenge.www.acme.test'), []);
  });

  it('finds the zone with SOA queries when none is configured', async () => {
    assert.equal(await findZone(dns, '_acme-challenge.deep.www.acme.test'), 'acme.test');
    assert.equal(await findZone(dns, 'acme.test'), 'acme.test');
    const provider = createRfc2136Provider({ server: dns.address, zone: undefined, key: dns.tsig });
    await provider.present('_acme-challenge.found.acme.test', 'v1');
    assert.deepEqual(await txtValues(dns, '_acme-challenge.found.acme.test'), ['v1']);
    await provider.cleanup('_acme-challenge.found.acme.test', 'v1');
  });

  it('a wrong secret is refused by the server, and says so', async () => {
    const provider = createRfc2136Provider({ server: dns.address, zone: 'acme.test', key: { ...dns.tsig, secret: Buffer.alloc(32, 7).toString('base64') } });
    await assert.rejects(provider.present('_acme-challenge.www.acme.test', 'nope'), /BADSIG/);
    assert.deepEqual(dig(dns, '_acme-challenge.www.acme.test'), []);
  });

  it('an unknown key name is refused, and says so', async () => {
    const provider = createRfc2136Provider({ server: dns.address, zone: 'acme.test', key: { ...dns.tsig, name: 'someone-else' } });
    await assert.rejects(provider.present('_acme-challenge.www.acme.test', 'nope'), /BADKEY/);
  });

  it("verifies the server's signed answer, and rejects one changed on the way", async () => {
    const update = encodeUpdate(4242, 'acme.test', [{ name: 'tamper.acme.test', type: TYPE.TXT, class: CLASS.IN, ttl: 5, data: encodeTxt('x') }]);
    const signed = signMessage(update, dns.tsig);
    const answer = await exchange(dns, signed.message);
    assert.equal(decodeMessage(answer).flags & 0x0f, 0, 'NOERROR');
    verifyResponse(answer, signed, dns.tsig);
    const changed = Buffer.from(answer);
    changed[3] = changed[3]! | 0x05; // rcode REFUSED, as an attacker on the path might rewrite it
    assert.throws(() => verifyResponse(changed, signed, dns.tsig), /does not verify/);
    // the answer to another request's MAC does not verify either
    const other = signMessage(update, dns.tsig, Date.now() - 1000);
    assert.throws(() => verifyResponse(answer, other, dns.tsig), /does not verify/);
  });

  it('a name outside the zone is refused with NOTZONE', async () => {
    const provider = createRfc2136Provider({ server: dns.address, zone: 'acme.test', key: dns.tsig });
    await assert.rejects(provider.present('_acme-challenge.elsewhere.example', 'v'), /NOTZONE/);
  });
});
