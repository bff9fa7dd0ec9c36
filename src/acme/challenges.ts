import acme from 'acme-client';
import type { SecretBox } from '../secrets.js';
import { bumpCounter, type Db } from '../store/index.js';
import type { DnsProvider } from './dns/rfc2136.js';

/** Long enough for any validation; a row left by a crash is swept after this. */
const CHALLENGE_TTL_MS = 60 * 60_000;
/** how long edges get to load a new TLS-ALPN-01 certificate (they poll tls_generation) */
const TLS_RELOAD_MS = 1500;

export type ChallengeKind = 'http-01' | 'tls-alpn-01' | 'dns-01';

/**
 * Publish the answer to one challenge where the CA will look, and return how to take it down:
 * http-01 and tls-alpn-01 answers go into acme_challenges, which every edge process reads
 * (the HTTP port answers /.well-known/acme-challenge/<token>; the HTTPS listener serves the
 * acme-tls/1 certificate); dns-01 answers go to the DNS provider.
 */
export async function presentChallenge(
  ctx: { db: Db; box: SecretBox; dns: DnsProvider | undefined },
  kind: ChallengeKind,
  authz: acme.Authorization,
  token: string,
  keyAuthorization: string,
): Promise<() => Promise<void>> {
  const { db, box } = ctx;
  const host = authz.identifier.value;
  const expires = Date.now() + CHALLENGE_TTL_MS;
  if (kind === 'http-01') {
    await db
      .insertInto('acme_challenges')
      .values({ kind, key: token, value: keyAuthorization, expires_at: expires })
      .onConflict((oc) => oc.columns(['kind', 'key']).doUpdateSet({ value: keyAuthorization, expires_at: expires }))
      .execute();
    return async () => {
      await db.deleteFrom('acme_challenges').where('kind', '=', kind).where('key', '=', token).execute();
    };
  }
  if (kind === 'tls-alpn-01') {
    const [keyPem, certPem] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization, await acme.crypto.createPrivateEcdsaKey('P-256'));
    const value = box.encrypt(JSON.stringify({ certPem: certPem.toString(), keyPem: keyPem.toString() }));
    await db
      .insertInto('acme_challenges')
      .values({ kind, key: host, value, expires_at: expires })
      .onConflict((oc) => oc.columns(['kind', 'key']).doUpdateSet({ value, expires_at: expires }))
      .execute();
    await bumpCounter(db, 'tls_generation');
    await new Promise((resolve) => setTimeout(resolve, TLS_RELOAD_MS));
    return async () => {
      await db.deleteFrom('acme_challenges').where('kind', '=', kind).where('key', '=', host).execute();
      await bumpCounter(db, 'tls_generation');
    };
  }
  const dns = ctx.dns;
  if (dns === undefined) throw new Error('DNS-01 is not configured');
  const fqdn = `_acme-challenge.${host}`;
  await dns.present(fqdn, keyAuthorization);
  return () => dns.cleanup(fqdn, keyAuthorization);
}

/** Drop challenge answers a crashed order left behind. */
export async function sweepChallenges(db: Db, now = Date.now()): Promise<void> {
  const gone = await db.deleteFrom('acme_challenges').where('expires_at', '<', now).returning('kind').execute();
  if (gone.some((r) => r.kind === 'tls-alpn-01')) await bumpCounter(db, 'tls_generation');
}
