import acme from 'acme-client';
import type { SecretBox } from '../secrets.js';
import type { Db } from '../store/index.js';
import { presentChallenge, type ChallengeKind } from './challenges.js';
import type { DnsProvider } from './dns/rfc2136.js';
import { AcmeFailure, shortType } from './problem.js';
import { recordEvent } from './rate-limits.js';
import { step } from './steps.js';

export interface OrderContext {
  db: Db;
  box: SecretBox;
  client: acme.Client;
  /** how names that are not wildcards prove control */
  challenge: 'http-01' | 'tls-alpn-01';
  dns: DnsProvider | undefined;
  log: (message: string) => void;
}

/**
 * Order one certificate for `names` and see it through: answer each pending authorization
 * (DNS-01 for wildcards and when `viaDns`, else the configured challenge), finalize with a
 * fresh ECDSA P-256 key, download the chain. Counts the order and each failed validation in
 * acme_events. Throws an AcmeFailure with the CA's words.
 */
export async function orderCertificate(ctx: OrderContext, names: string[], viaDns: boolean): Promise<{ certPem: string; keyPem: string }> {
  const { client } = ctx;
  await recordEvent(ctx.db, 'order', names[0]!);
  const order = await step(`Ordering a certificate for ${names.join(', ')}`, () => client.createOrder({ identifiers: names.map((value) => ({ type: 'dns', value })) }));
  const authorizations = await step('Reading the authorizations', () => client.getAuthorizations(order));
  for (const authz of authorizations) {
    if (authz.status === 'valid') continue;
    await authorize(ctx, authz, viaDns || authz.wildcard === true ? 'dns-01' : ctx.challenge);
  }
  const [keyPem, csr] = await acme.crypto.createCsr({ altNames: names, ...(names[0]!.length <= 64 ? { commonName: names[0]! } : {}) }, await acme.crypto.createPrivateEcdsaKey('P-256'));
  // (the polled copy has no url: finalize with the order itself)
  await step('Waiting for the order to be ready', () => client.waitForValidStatus(order));
  const finalized = await step('Finalizing the order', () => client.finalizeOrder(order, csr));
  const certPem = await step('Downloading the certificate', () => client.getCertificate(finalized));
  return { certPem, keyPem: keyPem.toString() };
}

async function authorize(ctx: OrderContext, authz: acme.Authorization, kind: ChallengeKind): Promise<void> {
  const { client } = ctx;
  const host = authz.identifier.value;
  const label = `${authz.wildcard === true ? '*.' : ''}${host}`;
  const challenge = authz.challenges.find((c) => c.type === kind);
  if (challenge === undefined) {
    throw new AcmeFailure(`The CA offers no ${kind} challenge for ${label} (it offers ${authz.challenges.map((c) => c.type).join(', ') || 'none'}).`);
  }
  const keyAuthorization = await step('Computing the key authorization', () => client.getChallengeKeyAuthorization(challenge));
  const token = 'token' in challenge ? challenge.token : '';
  let takeDown: (() => Promise<void>) | undefined;
  try {
    takeDown = await presentChallenge(ctx, kind, authz, token, keyAuthorization).catch((error: unknown) => {
      throw new AcmeFailure(`Publishing the ${kind} answer for ${label} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    });
    await step(`Asking the CA to validate ${label} (${kind})`, () => client.completeChallenge(challenge));
    try {
      await client.waitForValidStatus(challenge);
    } catch (error) {
      // read the challenge's own error: it says what the CA saw ("connection refused", "wrong TXT")
      const [fresh] = await client.getAuthorizations({ authorizations: [authz.url] } as acme.Order).catch(() => [undefined]);
      const failed = fresh?.challenges.find((c) => c.type === kind);
      const problem = failed?.error as { type?: string; detail?: string } | undefined;
      if (fresh?.status === 'invalid' || failed?.status === 'invalid') await recordEvent(ctx.db, 'failed-validation', host);
      const detail = problem?.detail ?? (error instanceof Error ? error.message : String(error));
      throw new AcmeFailure(`Validation of ${label} over ${kind} failed: ${detail}${problem?.type === undefined ? '' : ` (${shortType(problem.type)})`}`, { cause: error });
    }
  } finally {
    if (takeDown !== undefined) await takeDown().catch((error: unknown) => ctx.log(`removing the ${kind} answer for ${label} failed: ${String(error)}`));
  }
}
