/**
 * Accounts, teams, roles, sessions and tokens: who is calling (caller.ts) and what a route
 * lets them do (access.ts). The api checks both in one hook per request (src/api/guard.ts).
 */
export { authorize, projectNotFound, projectTeamRole, teamNotFound, teamRole, type Access, type Grant } from './access.js';
export {
  allTeams,
  atLeast,
  checkPassword,
  checkRole,
  checkSlug,
  createTeam,
  findTeam,
  insertUser,
  prepareUser,
  type PreparedUser,
  findUser,
  findUserByEmail,
  keepAnOwner,
  normaliseEmail,
  roleOf,
  ROLES,
  serializeUser,
  setMembership,
  teamsOf,
} from './accounts.js';
export { actorOf, readAudit, recordAudit, recordWebhookAudit, type AuditEntry } from './audit.js';
export { callerUserId, fromToken, resolveCaller, type Caller } from './caller.js';
export { dummyHash, hashPassword, needsRehash, verifyPassword } from './password.js';
export { checkLoginLimit, clearAccountFailures, LOGIN_LIMITS, recordAttempt } from './rate-limit.js';
export { createSession, endAllSessions, endSession, findLiveSession, readSessionCookie, SESSION_COOKIE, SESSION_IDLE_MS, SESSION_MAX_MS, sessionCookie } from './sessions.js';
export { checkExpiry, checkTokenName, DEPLOY_PREFIX, insertToken, PERSONAL_PREFIX, randomSecret, serializeToken, sha256 } from './tokens.js';
export { ensureFirstOwner } from './first-owner.js';
