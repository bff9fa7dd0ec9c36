import type { Config } from '../config/index.js';
import type { Store } from '../store/index.js';
import { findTeam, insertUser, prepareUser, setMembership } from './accounts.js';

/**
 * At a start with no user yet: make the first owner of team "default" from SLIPWAY_ADMIN_EMAIL
 * and SLIPWAY_ADMIN_PASSWORD, or say how to make one. Returns the line to print (undefined:
 * people exist already).
 */
export async function ensureFirstOwner(store: Store, config: Config): Promise<string | undefined> {
  const anyone = await store.db.selectFrom('users').select('id').limit(1).executeTakeFirst();
  if (anyone !== undefined) return undefined;
  if (config.firstOwner === undefined) {
    return 'No accounts yet. Make the first owner: echo "$PASSWORD" | slipway users create --email you@example.com --password-stdin --team default --role owner\n  (or start with SLIPWAY_ADMIN_EMAIL and SLIPWAY_ADMIN_PASSWORD set)';
  }
  const owner = config.firstOwner;
  const prepared = await prepareUser({ email: owner.email, password: owner.password });
  const user = await store.tx(async (db) => {
    const made = await insertUser(db, prepared);
    const team = await findTeam(db, 'default');
    if (team !== undefined) await setMembership(db, team.id, made.id, 'owner');
    return made;
  });
  return `Made the first owner ${user.email} (team default) from SLIPWAY_ADMIN_EMAIL.`;
}
