import { createHmac } from 'node:crypto';
import { AppError } from '../errors/index.js';
import type { Db } from './index.js';

const META_KEY = 'platform_key_check';

/** 48 bits of an HMAC under the key: names the key without saying anything about it (fits meta's bigint exactly) */
function fingerprint(key: Buffer): number {
  return Number.parseInt(createHmac('sha256', key).update('slipway platform key check').digest('hex').slice(0, 12), 16);
}

/**
 * Every process of an installation must hold the same platform key: a machine with its own
 * would store secrets and certificate keys nobody else can read, and fail to read theirs. The
 * first process records a fingerprint of its key in the database; every later start compares
 * and stops with what to do when its key is another one.
 */
export async function checkPlatformKey(db: Db, key: Buffer, keyFile: string): Promise<void> {
  const mine = fingerprint(key);
  await db
    .insertInto('meta')
    .values({ key: META_KEY, value: mine })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const row = await db.selectFrom('meta').select('value').where('key', '=', META_KEY).executeTakeFirstOrThrow();
  if (Number(row.value) === mine) return;
  throw new AppError('CONFIG', `The platform key in ${keyFile} is not the key this installation's database was set up with.`, {
    hint: 'Every Slipway process of one installation needs the same key: copy secret.key from the first machine (mode 0600) and point --secret-key-file (SLIPWAY_SECRET_KEY_FILE) at it. A key made anew cannot read the secrets stored under the old one.',
  });
}
