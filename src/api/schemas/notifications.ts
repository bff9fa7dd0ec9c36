import { EVENT_TYPES } from '../../notify/events.js';
import { bool, int, isoTime, listOf, object, orNull, pageQuery, params, route, str, type JsonSchema } from './common.js';

const tags = ['notifications'];
const projectParams = params({ project: 'the project name (or id)' });
const teamParams = params({ team: 'the team slug' });
// The schemas describe the shapes; the handler checks the values, so a bad one gets a hint

const endpointBody = object(
  {
    kind: str('webhook (a signed JSON POST), slack (a Slack-compatible incoming webhook: Slack, Mattermost, Discord /slack) or email (mail to you; projects only); required'),
    url: str('webhook and slack: where to POST'),
    events: { type: 'array', items: str(), description: `the events it gets, of ${EVENT_TYPES.join(', ')} (default: all; email: ready, failed and awaiting approval only)` },
  },
  [],
  { examples: [{ kind: 'webhook', url: 'https://hooks.example.com/slipway', events: ['deployment.ready', 'deployment.failed'] }] },
);

const endpointShape: JsonSchema = object(
  {
    id: str(),
    kind: str(undefined, { enum: ['webhook', 'slack', 'email'] }),
    scope: str('project: this project only; team: every project of the team', { enum: ['project', 'team'] }),
    url: orNull(str("the URL, with a Slack URL's secret path and any query cut off")),
    email: orNull(str('email: the subscriber')),
    events: { type: 'array', items: str() },
    createdAt: isoTime(),
    signingSecret: str('webhook: the HMAC-SHA256 signing secret, shown once, in the answer that made it'),
  },
  ['id', 'kind', 'scope', 'url', 'email', 'events', 'createdAt'],
);

const attemptShape = object(
  {
    attempt: int(),
    at: isoTime(),
    ok: bool(),
    status: orNull(int('the HTTP status (null: no answer, or email)')),
    durationMs: int(),
    response: orNull(str("the first KB of the answer, or the mail server's reply")),
    error: orNull(str()),
  },
  ['attempt', 'at', 'ok', 'status', 'durationMs', 'response', 'error'],
);

const deliveryShape: JsonSchema = object(
  {
    id: str(),
    endpointId: str(),
    eventId: str('the event\'s id: the same in every delivery of it (the body\'s "id")'),
    event: str(),
    deploymentId: orNull(str()),
    state: str('pending, retrying, delivered or failed (gave up after a day)', { enum: ['pending', 'retrying', 'delivered', 'failed'] }),
    attempts: { type: 'array', items: attemptShape },
    lastStatus: orNull(int()),
    lastError: orNull(str()),
    nextAttemptAt: orNull(isoTime()),
    resendOf: orNull(str('the delivery this one sends again')),
    createdAt: isoTime(),
  },
  ['id', 'endpointId', 'eventId', 'event', 'deploymentId', 'state', 'attempts', 'lastStatus', 'lastError', 'nextAttemptAt', 'resendOf', 'createdAt'],
);

const inboundShape = object(
  {
    sender: str(),
    spf: orNull(str('what the relay reported (Authentication-Results); null: nothing')),
    dkim: orNull(str()),
    command: orNull(str()),
    outcome: str('deployed, deployed-answered, status, show-preview, rolled-back, help, refused, failed, stranger (not a member: no answer) or unauthenticated (failed SPF/DKIM: no answer)'),
    deploymentId: orNull(str()),
    receivedAt: isoTime(),
  },
  ['sender', 'spf', 'dkim', 'command', 'outcome', 'deploymentId', 'receivedAt'],
);

const mailAddressShape = object(
  {
    enabled: bool(),
    address: orNull(str('deploy+<project>.<token>@<mail domain>: shown once, when it is made')),
    createdAt: orNull(isoTime()),
    recent: { type: 'array', items: inboundShape, description: 'the last 20 messages to the address, newest first (GET only)' },
  },
  ['enabled', 'address', 'createdAt'],
);

function scoped(what: 'project' | 'team') {
  const p = what === 'project' ? projectParams : teamParams;
  const of = what === 'project' ? "a project's (and its team's)" : "a team's (every project)";
  return {
    list: route({ summary: `List ${of} notification endpoints`, tags, params: p, querystring: pageQuery(), response: { 200: listOf('notifications', endpointShape) } }),
    create: route({ summary: `Add a notification endpoint to ${what === 'project' ? 'a project' : 'a team'}`, tags, params: p, body: endpointBody, response: { 201: endpointShape } }),
    remove: route({
      summary: 'Remove a notification endpoint',
      tags,
      params: what === 'project' ? params({ project: 'the project name (or id)', endpoint: 'the endpoint id' }) : params({ team: 'the team slug', endpoint: 'the endpoint id' }),
      response: { 204: null },
    }),
    deliveries: route({
      summary: `List ${of} notification deliveries, newest first, with every attempt`,
      tags,
      params: p,
      querystring: pageQuery({ endpoint: str("only this endpoint's") }),
      response: { 200: listOf('deliveries', deliveryShape) },
    }),
    resend: route({
      summary: "Send a delivery's event to its endpoint again (a new delivery)",
      tags,
      params: what === 'project' ? params({ project: 'the project name (or id)', delivery: 'the delivery id' }) : params({ team: 'the team slug', delivery: 'the delivery id' }),
      response: { 202: deliveryShape },
    }),
  };
}

export const notificationSchemas = {
  project: scoped('project'),
  team: scoped('team'),
  mailAddress: route({ summary: "Whether the project's deploy-by-email address is on", tags, params: projectParams, response: { 200: mailAddressShape } }),
  makeMailAddress: route({ summary: "Make (or rotate) the project's deploy-by-email address; the old one stops working", tags, params: projectParams, response: { 201: mailAddressShape } }),
  removeMailAddress: route({ summary: "Turn the project's deploy-by-email address off", tags, params: projectParams, response: { 204: null } }),
};
