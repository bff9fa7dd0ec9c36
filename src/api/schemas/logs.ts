import { int, isoTime, object, orNull, params, route, str } from './common.js';

const accessLine = object(
  {
    id: int('the cursor of this entry'),
    at: isoTime('when the request arrived'),
    method: str(),
    host: str(),
    path: str('path and query as requested'),
    status: int(),
    bytes: int('bytes sent'),
    durationMs: { type: 'number', description: 'from arrival to the last byte' },
    deploymentId: str(),
    clientIp: str(),
  },
  ['id', 'at', 'method', 'host', 'path', 'status', 'bytes', 'durationMs', 'deploymentId', 'clientIp'],
);
const serverLine = object({ id: int('the cursor of this line'), at: isoTime(), deploymentId: str(), text: str('one line of stdout or stderr, secrets masked') }, ['id', 'at', 'deploymentId', 'text']);
const drain = object({ url: str('the URL with its credentials and query masked'), failures: int('failed tries of the current batch'), lastError: orNull(str()), createdAt: isoTime() }, [
  'url',
  'failures',
  'lastError',
  'createdAt',
]);

export const logSchemas = {
  metrics: route({
    summary: 'Prometheus metrics of this process (and its edge workers)',
    description: 'Needs Authorization: Bearer <--metrics-token>. Text exposition format 0.0.4. 404 while no metrics token is configured.',
    tags: ['system'],
    response: { 200: str('Prometheus text format') },
  }),
  read: route({
    summary: "A project's access log or its SSR servers' output",
    description:
      'Oldest first after ?since= (the `next` of the previous answer); without since, the last ?tail= entries (default 100). Poll with since=next to follow. type=access (default): requests the edge answered; type=server: lines SSR servers printed.',
    tags: ['logs'],
    params: params({ project: 'the project name or id' }),
    querystring: object({
      since: str('the cursor: entries after it', { pattern: '^[0-9]{1,15}$', examples: ['1234'] }),
      tail: str('without since: the last N entries, 1 to 1000', { pattern: '^[0-9]{1,4}$', examples: ['100'] }),
      limit: str('at most this many, 1 to 1000 (default 1000)', { pattern: '^[0-9]{1,4}$' }),
      type: str('access (default) or server', { enum: ['access', 'server'] }),
      deployment: str('only this deployment', { maxLength: 64 }),
    }),
    response: {
      200: object(
        {
          project: str(),
          type: str(undefined, { enum: ['access', 'server'] }),
          lines: { type: 'array', items: { oneOf: [accessLine, serverLine] } },
          next: str('pass as ?since= for what comes after'),
        },
        ['project', 'type', 'lines', 'next'],
      ),
    },
  }),
  getDrain: route({
    summary: "Where the project's logs are drained to",
    tags: ['logs'],
    params: params({ project: 'the project name or id' }),
    response: { 200: object({ drain: orNull(drain) }, ['drain']) },
  }),
  setDrain: route({
    summary: "Drain the project's access log and server output to an HTTP endpoint",
    description:
      'New entries are POSTed in batches as JSON {"project", "access": [...], "server": [...]}; a batch that does not get a 2xx is sent again with a growing wait. The URL is kept encrypted and shown masked.',
    tags: ['logs'],
    params: params({ project: 'the project name or id' }),
    // url is checked by the route (after the caller's access), so a stranger learns nothing from a 400
    body: object({ url: str('http(s) URL of the receiver (required)', { examples: ['https://logs.example.com/ingest?token=abc'] }) }, [], {
      examples: [{ url: 'https://logs.example.com/ingest?token=abc' }],
    }),
    response: { 200: drain },
  }),
  removeDrain: route({ summary: "Stop draining the project's logs", tags: ['logs'], params: params({ project: 'the project name or id' }), response: { 204: null } }),
};
