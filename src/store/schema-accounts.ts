import type { Generated } from 'kysely';

/** Tables of people: users, teams, memberships, sessions, tokens, invitations, the audit trail, login attempts (issue 10). */
export type Role = 'owner' | 'member' | 'viewer';

export interface UserTable {
  id: string;
  /** lower-case */
  email: string;
  name: string | null;
  /** versioned scrypt string, see src/auth/password.ts */
  password_hash: string;
  created_at: number;
}

export interface TeamTable {
  id: string;
  slug: string;
  name: string;
  created_at: number;
}

export interface MembershipTable {
  team_id: string;
  user_id: string;
  role: Role;
  created_at: number;
}

export interface SessionTable {
  /** sha256 (hex) of the cookie's session id; the id itself is never stored */
  id_hash: string;
  /** null: the installation admin (logged in with the admin token) */
  user_id: string | null;
  csrf: string;
  created_at: number;
  last_seen_at: number;
  /** absolute end; the idle limit is counted from last_seen_at */
  expires_at: number;
  ip: string | null;
}

export interface TokenTable {
  id: string;
  /** sha256 (hex) of the token */
  hash: string;
  /** the first characters of the token, to recognise it in a list */
  prefix: string;
  kind: 'personal' | 'deploy';
  name: string;
  /** who made it; null: the installation admin (deploy tokens only) */
  user_id: string | null;
  /** personal tokens: the one team it may act on (null: all the user's teams); deploy tokens: the project's team */
  team_id: string | null;
  /** deploy tokens: the one project */
  project_id: string | null;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface InvitationTable {
  id: string;
  /** sha256 (hex) of the link's token */
  hash: string;
  team_id: string;
  role: Role;
  email: string | null;
  created_by: string | null;
  created_at: number;
  expires_at: number;
  accepted_at: number | null;
  accepted_by: string | null;
}

export interface AuditEventTable {
  id: Generated<number>;
  team_id: string;
  /** 'webhook': a git host's delivery (actor_id 'github', 'gitlab' or 'gitea') */
  actor_type: 'user' | 'token' | 'admin' | 'webhook';
  actor_id: string;
  actor_email: string | null;
  action: string;
  target: string;
  /** JSON object */
  details: string;
  at: number;
  ip: string | null;
}

export interface LoginAttemptTable {
  id: Generated<number>;
  /** 'account:<email>' or 'address:<ip>' */
  key: string;
  at: number;
}
