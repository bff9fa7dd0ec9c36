import { AppError } from '../errors/index.js';
import { newId } from '../ids.js';
import type { Db, Role, Team, User } from '../store/index.js';
import { hashPassword } from './password.js';

export const ROLES: readonly Role[] = ['viewer', 'member', 'owner'];
const RANK: Record<Role, number> = { viewer: 1, member: 2, owner: 3 };

/** `atLeast('member', 'viewer') === true`: may a holder of `role` do what needs `needed`? */
export function atLeast(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}

export function checkRole(value: unknown): Role {
  if (typeof value !== 'string' || !ROLES.includes(value as Role)) {
    throw new AppError('VALIDATION', 'role must be "owner", "member" or "viewer".', { hint: 'For example: {"role": "member"}' });
  }
  return value as Role;
}

/** Emails are compared lower-case; a plain shape check (the address is a login name, nothing is mailed). */
export function normaliseEmail(value: unknown): string {
  if (typeof value !== 'string' || value.length > 254 || !/^[^\s@]+@[^\s@]+$/.test(value.trim())) {
    throw new AppError('VALIDATION', 'email must be an email address.', { hint: 'For example: {"email": "ada@example.com"}' });
  }
  return value.trim().toLowerCase();
}

export function checkPassword(value: unknown): string {
  // 10+ characters; 1024 at most keeps a request from making the KDF hash megabytes
  if (typeof value !== 'string' || value.length < 10 || value.length > 1024) {
    throw new AppError('VALIDATION', 'password must be 10 to 1024 characters long.', { hint: 'Use a passphrase of a few words, for example from a password manager.' });
  }
  return value;
}

function optionalName(value: unknown, field: string): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string' || value.length > 200) throw new AppError('VALIDATION', `${field} must be a string of at most 200 characters.`, { hint: `For example: {"${field}": "Ada Lovelace"}` });
  return value.trim();
}

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

export function checkSlug(value: unknown): string {
  if (typeof value !== 'string' || !SLUG.test(value)) {
    throw new AppError('VALIDATION', 'slug must be 1-40 lower-case letters, digits or hyphens, starting and ending with a letter or digit.', { hint: 'For example: {"slug": "acme"}' });
  }
  return value;
}

/** A checked and hashed new account, made before the transaction: the KDF's ~0.2 s must not hold the store's write lock. */
export interface PreparedUser {
  email: string;
  name: string | null;
  passwordHash: string;
}

export async function prepareUser(input: { email?: unknown; password?: unknown; name?: unknown }): Promise<PreparedUser> {
  const email = normaliseEmail(input.email);
  const password = checkPassword(input.password);
  return { email, name: optionalName(input.name, 'name'), passwordHash: await hashPassword(password) };
}

/** Store a prepared user (in the caller's transaction); the email must be free. */
export async function insertUser(db: Db, prepared: PreparedUser): Promise<User> {
  if ((await findUserByEmail(db, prepared.email)) !== undefined)
    throw new AppError('CONFLICT', `There is already an account for ${prepared.email}.`, { hint: 'Add that person to a team instead: POST /api/v1/teams/<team>/members {"email","role"}.' });
  const user: User = { id: newId('u'), email: prepared.email, name: prepared.name, password_hash: prepared.passwordHash, created_at: Date.now() };
  await db.insertInto('users').values(user).execute();
  return user;
}

export async function findUserByEmail(db: Db, email: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('email', '=', email.toLowerCase()).executeTakeFirst();
}

export async function findUser(db: Db, id: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export function serializeUser(user: User): { id: string; email: string; name: string | null } {
  return { id: user.id, email: user.email, name: user.name };
}

export async function createTeam(db: Db, input: { slug?: unknown; name?: unknown }, owner: User | undefined): Promise<Team> {
  const slug = checkSlug(input.slug);
  if ((await findTeam(db, slug)) !== undefined) throw new AppError('CONFLICT', `A team "${slug}" already exists.`, { hint: 'Pick another slug.' });
  const team: Team = { id: newId('t'), slug, name: optionalName(input.name, 'name') ?? slug, created_at: Date.now() };
  await db.insertInto('teams').values(team).execute();
  if (owner !== undefined) await db.insertInto('memberships').values({ team_id: team.id, user_id: owner.id, role: 'owner', created_at: Date.now() }).execute();
  return team;
}

export async function findTeam(db: Db, slugOrId: string): Promise<Team | undefined> {
  return db
    .selectFrom('teams')
    .selectAll()
    .where((eb) => eb.or([eb('slug', '=', slugOrId), eb('id', '=', slugOrId)]))
    .executeTakeFirst();
}

export async function roleOf(db: Db, teamId: string, userId: string): Promise<Role | undefined> {
  const row = await db.selectFrom('memberships').select('role').where('team_id', '=', teamId).where('user_id', '=', userId).executeTakeFirst();
  return row?.role;
}

/** The user's teams with their role, by slug. */
export async function teamsOf(db: Db, userId: string): Promise<Array<{ id: string; slug: string; name: string; role: Role }>> {
  return db
    .selectFrom('memberships')
    .innerJoin('teams', 'teams.id', 'memberships.team_id')
    .select(['teams.id', 'teams.slug', 'teams.name', 'memberships.role'])
    .where('memberships.user_id', '=', userId)
    .orderBy('teams.slug')
    .execute();
}

export async function allTeams(db: Db): Promise<Team[]> {
  return db.selectFrom('teams').selectAll().orderBy('slug').execute();
}

/** Add or change a membership (in the caller's transaction). */
export async function setMembership(db: Db, teamId: string, userId: string, role: Role): Promise<void> {
  const updated = await db.updateTable('memberships').set({ role }).where('team_id', '=', teamId).where('user_id', '=', userId).executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 0) await db.insertInto('memberships').values({ team_id: teamId, user_id: userId, role, created_at: Date.now() }).execute();
}

/** Refuse a change that would leave the team without an owner. */
export async function keepAnOwner(db: Db, teamId: string, leavingUserId: string): Promise<void> {
  const others = await db.selectFrom('memberships').select('user_id').where('team_id', '=', teamId).where('role', '=', 'owner').where('user_id', '!=', leavingUserId).executeTakeFirst();
  if (others === undefined) throw new AppError('LAST_OWNER', 'A team needs at least one owner: this is its last one.');
}
