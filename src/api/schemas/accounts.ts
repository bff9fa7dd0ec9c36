import { bool, isoTime, listOf, object, orNull, pageQuery, params, roleSchema, route, str, teamShape, userShape } from './common.js';

const teamParams = params({ team: 'the team slug' });
const memberParams = params({ team: 'the team slug', userId: 'the member’s user id' });
const tokenShape = object(
  {
    id: str(),
    kind: str(undefined, { enum: ['personal', 'deploy'] }),
    name: str(),
    prefix: str('the start of the token, to recognise it'),
    team: orNull(str('the team it is limited to')),
    project: orNull(str('the project of a deploy token')),
    createdAt: orNull(isoTime()),
    lastUsedAt: orNull(isoTime()),
    expiresAt: orNull(isoTime()),
  },
  ['id', 'kind', 'name', 'team', 'project', 'createdAt', 'expiresAt'],
);
const memberShape = object({ id: str(), email: str(), name: orNull(str()), role: roleSchema, since: isoTime() }, ['id', 'email', 'role']);
const auditShape = object(
  {
    id: str(),
    at: isoTime(),
    actor: object({ type: str(), id: orNull(str()), email: str() }, ['type']),
    action: str('e.g. project.create, deployment.promote'),
    target: str(),
    details: object({}),
    ip: orNull(str()),
  },
  ['id', 'at', 'actor', 'action', 'target'],
);
const newUser = { email: str('their email address', { examples: ['ada@example.com'] }), password: str('at least 12 characters'), name: str('how they are shown') };
const meShape = object({ user: userShape, admin: bool(), teams: { type: 'array', items: teamShape }, csrfToken: str('send as X-CSRF-Token with a session cookie') }, ['user', 'admin', 'teams']);

const gitHostShape = object(
  { provider: str(), kind: str('token or app'), apiUrl: orNull(str()), token: str('the last 4 characters'), appId: { type: ['string', 'integer'] }, privateKey: str(), updatedAt: isoTime() },
  ['provider', 'kind', 'updatedAt'],
);

export const authSchemas = {
  login: route({
    summary: 'Log in to a cookie session',
    description: 'With email and password, or with a personal token. Rate limited per account and per address (429 with Retry-After).',
    tags: ['auth'],
    body: object({ email: str(), password: str(), token: str('a personal token instead of email and password') }, [], { examples: [{ email: 'ada@example.com', password: '…' }] }),
    response: { 200: object({ user: userShape, csrfToken: str('send as X-CSRF-Token on changes made with the cookie') }, ['user', 'csrfToken']) },
  }),
  logout: route({ summary: 'End this browser session', tags: ['auth'], response: { 204: null } }),
  logoutEverywhere: route({ summary: 'End every session of your account', tags: ['auth'], response: { 200: object({ sessionsEnded: { type: 'integer' } }, ['sessionsEnded']) } }),
  me: route({ summary: 'Who am I: the account and its teams', tags: ['auth'], response: { 200: meShape } }),
};

export const accountSchemas = {
  createUser: route({
    summary: 'Create an account (installation admin)',
    tags: ['users'],
    body: object({ ...newUser, team: str('put them in this team at once'), role: roleSchema }, [], {
      examples: [{ email: 'ada@example.com', password: 'a long password', team: 'acme', role: 'member' }],
    }),
    response: { 201: userShape },
  }),
  listUsers: route({
    summary: 'List accounts (installation admin)',
    tags: ['users'],
    querystring: pageQuery(),
    response: { 200: listOf('users', object({ ...(userShape.properties as object), createdAt: isoTime() })) },
  }),
  listTeams: route({ summary: 'List your teams', tags: ['teams'], querystring: pageQuery(), response: { 200: listOf('teams', teamShape) } }),
  createTeam: route({
    summary: 'Create a team; you become its owner',
    tags: ['teams'],
    body: object({ slug: str('lower case letters, digits and "-"'), name: str() }, [], { examples: [{ slug: 'acme', name: 'Acme' }] }),
    response: { 201: teamShape },
  }),
  deleteTeam: route({
    summary: 'Delete an empty team',
    description: 'A team that still has projects answers 409 TEAM_NOT_EMPTY naming them; its members, invitations, tokens scoped to it and audit trail go with it.',
    tags: ['teams'],
    params: teamParams,
    response: { 204: null },
  }),
  gitHosts: route({
    summary: "A team's own git host credentials, masked",
    tags: ['teams'],
    params: teamParams,
    response: { 200: object({ gitHosts: { type: 'array', items: gitHostShape } }, ['gitHosts']) },
  }),
  setGitHost: route({
    summary: "Set a team's own GitHub or GitLab credentials (stored encrypted)",
    description: 'A token, or for GitHub an App id with its private key (PEM); apiUrl for GitHub Enterprise Server or a self-hosted GitLab.',
    tags: ['teams'],
    params: teamParams,
    body: object({ provider: str('github or gitlab', { enum: ['github', 'gitlab'] }), token: str(), appId: { type: ['string', 'integer'] }, privateKey: str('PEM'), apiUrl: str() }, ['provider'], {
      examples: [{ provider: 'github', token: 'ghp_…' }],
    }),
    response: { 200: gitHostShape },
  }),
  removeGitHost: route({
    summary: "Remove a team's own credentials for one provider",
    tags: ['teams'],
    params: params({ team: 'the team slug', provider: 'github or gitlab' }),
    response: { 204: null },
  }),
  listMembers: route({ summary: 'List the members of a team', tags: ['teams'], params: teamParams, querystring: pageQuery(), response: { 200: listOf('members', memberShape) } }),
  addMember: route({
    summary: 'Add an existing account to a team',
    tags: ['teams'],
    params: teamParams,
    body: object({ email: str(), role: str('owner, member or viewer') }, [], { examples: [{ email: 'ada@example.com', role: 'member' }] }),
    response: { 201: { ...userShape, properties: { ...(userShape.properties as object), role: roleSchema } } },
  }),
  changeMember: route({
    summary: "Change a member's role",
    tags: ['teams'],
    params: memberParams,
    body: object({ role: str('owner, member or viewer') }, [], { examples: [{ role: 'viewer' }] }),
    response: { 200: { ...userShape, properties: { ...(userShape.properties as object), role: roleSchema } } },
  }),
  removeMember: route({ summary: 'Remove a member (their tokens for the team are revoked)', tags: ['teams'], params: memberParams, response: { 204: null } }),
  audit: route({ summary: "Read a team's audit trail, newest first", tags: ['teams'], params: teamParams, querystring: pageQuery(), response: { 200: listOf('events', auditShape) } }),
};

export const tokenSchemas = {
  list: route({ summary: 'List your tokens (not revoked)', tags: ['tokens'], querystring: pageQuery(), response: { 200: listOf('tokens', tokenShape) } }),
  create: route({
    summary: 'Make a personal token, or a deploy token for one project',
    description: 'The token itself is in this answer only.',
    tags: ['tokens'],
    body: object(
      { name: str('what it is for'), team: orNull(str('limit a personal token to this team')), project: str('make a deploy token for this project'), expiresAt: orNull(str('an ISO time')) },
      [],
      { examples: [{ name: 'ci', project: 'my-site' }] },
    ),
    response: { 201: { ...tokenShape, properties: { ...(tokenShape.properties as object), token: str('shown once') } } },
  }),
  revoke: route({ summary: 'Revoke a token (at once)', tags: ['tokens'], params: params({ id: 'the token id' }), response: { 204: null } }),
};

const invitationParams = params({ token: 'the token of the invitation link' });
export const invitationSchemas = {
  create: route({
    summary: 'Make a one-time invitation link to a team',
    tags: ['teams'],
    params: teamParams,
    body: object({ role: str('owner, member or viewer'), email: orNull(str('only this address may accept it')) }, [], { examples: [{ role: 'member', email: 'ada@example.com' }] }),
    response: { 201: object({ url: str(), token: str(), team: str(), role: roleSchema, email: orNull(str()), expiresAt: isoTime() }, ['url', 'token', 'team', 'role', 'expiresAt']) },
  }),
  show: route({
    summary: 'What an invitation link is for',
    tags: ['teams'],
    params: invitationParams,
    response: { 200: object({ team: object({ slug: str(), name: str() }), role: roleSchema, email: orNull(str()), expiresAt: isoTime() }, ['team', 'role', 'expiresAt']) },
  }),
  accept: route({
    summary: 'Accept an invitation, as a new account or as yourself',
    tags: ['teams'],
    params: invitationParams,
    body: object(newUser, [], { examples: [{ email: 'ada@example.com', password: 'a long password', name: 'Ada' }] }),
    response: { 201: object({ user: userShape, team: teamShape }, ['user', 'team']) },
  }),
};
