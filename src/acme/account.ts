import acme from 'acme-client';
import type { SecretBox } from '../secrets.js';
import type { Db } from '../store/index.js';
import { step } from './steps.js';

/**
 * The installation's ACME account at `directory`: its key is made once (ECDSA P-256) and kept
 * in acme_accounts encrypted under the platform key, so every api process and every restart
 * uses the same account (the CA's rate limits are per account). Registers it with the CA the
 * first time, and updates its contact when --acme-email changes.
 */
export async function acmeClientFor(db: Db, box: SecretBox, directory: string, email: string | undefined): Promise<acme.Client> {
  let row = await db.selectFrom('acme_accounts').selectAll().where('directory', '=', directory).executeTakeFirst();
  if (row === undefined) {
    const key = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
    // two api processes starting at once: the first insert wins, both use its key
    await db
      .insertInto('acme_accounts')
      .values({ directory, account_url: null, email: email ?? null, key_enc: box.encrypt(key), created_at: Date.now() })
      .onConflict((oc) => oc.column('directory').doNothing())
      .execute();
    row = await db.selectFrom('acme_accounts').selectAll().where('directory', '=', directory).executeTakeFirstOrThrow();
  }
  const accountKey = box.decrypt(row.key_enc);
  // acme-client polls authorizations and orders itself; keep its waits short, our loop does the long ones
  const options = { directoryUrl: directory, accountKey, backoffAttempts: 12, backoffMin: 250, backoffMax: 3000 };
  const contact = email === undefined ? [] : [`mailto:${email}`];
  if (row.account_url === null) {
    const client = new acme.Client(options);
    await step('Registering the ACME account', () => client.createAccount({ termsOfServiceAgreed: true, contact }));
    await db
      .updateTable('acme_accounts')
      .set({ account_url: client.getAccountUrl(), email: email ?? null })
      .where('directory', '=', directory)
      .execute();
    return client;
  }
  const client = new acme.Client({ ...options, accountUrl: row.account_url });
  if ((row.email ?? undefined) !== email) {
    await step('Updating the ACME account contact', () => client.updateAccount({ contact }));
    await db
      .updateTable('acme_accounts')
      .set({ email: email ?? null })
      .where('directory', '=', directory)
      .execute();
  }
  return client;
}
