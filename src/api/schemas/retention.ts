import { bool, int, object, orNull, params, route, str, type JsonSchema } from './common.js';

const projectParams = params({ project: 'the project name (or id)' });
const retentionShape: JsonSchema = object(
  {
    project: str(),
    keepProduction: int('the newest N ready production deployments stay, whatever their age'),
    keepDays: int('anything newer than this many days stays; other deployments older than this are removed'),
    defaults: object({ keepProduction: int(), keepDays: int() }, ['keepProduction', 'keepDays']),
  },
  ['project', 'keepProduction', 'keepDays', 'defaults'],
);
// no additionalProperties: an unknown field gets a message with a hint from the handler
const retentionBody = object(
  {
    keepProduction: orNull(int('0-10000; null: the default')),
    keepDays: orNull(int('0-36500; null: the default')),
  },
  [],
  { examples: [{ keepProduction: 20, keepDays: 30 }] },
);
const removedShape = object({ id: str(), project: str(), environment: str(), status: str(), createdAt: int('ms since the epoch') }, ['id', 'project', 'environment', 'status', 'createdAt']);
const reportShape: JsonSchema = object(
  {
    dryRun: bool(),
    ran: bool('false: another worker was collecting; nothing was done'),
    startedAt: int(),
    finishedAt: int(),
    deployments: { type: 'array', items: removedShape, description: 'removed (or, in a dry run, to be removed)' },
    blobs: object({ count: int(), bytes: int('bytes freed (or to be freed)'), sample: { type: 'array', items: str() } }, ['count', 'bytes', 'sample']),
    kept: object({ deployments: int(), blobs: int(), bytes: int() }, ['deployments', 'blobs', 'bytes']),
    serverBundles: { type: 'array', items: str(), description: 'deployments whose materialized server bundle went' },
    buildCacheEntries: int('build cache entries evicted past their cap'),
    aws: object(
      {
        deployments: int('removed deployments whose AWS side is gone completely now'),
        versions: object({ count: int('Lambda versions deleted'), sample: { type: 'array', items: str('version ARN') } }, ['count', 'sample']),
        objects: object({ count: int('S3 objects deleted'), bytes: int(), sample: { type: 'array', items: str('S3 key') } }, ['count', 'bytes', 'sample']),
        aliases: { type: 'array', items: str('<function>:<alias>'), description: 'preview aliases deleted (their pull request closed, their branch deleted)' },
        waiting: { type: 'array', items: object({ id: str(), reason: str() }, ['id', 'reason']), description: 'removed deployments whose AWS side stays for now; the next run tries again' },
      },
      ['deployments', 'versions', 'objects', 'aliases', 'waiting'],
      { description: 'the AWS target: Lambda versions and S3 files of removed deployments' },
    ),
    warnings: { type: 'array', items: str() },
  },
  ['dryRun', 'ran', 'deployments', 'blobs', 'kept'],
);
const tags = ['retention'];

export const retentionSchemas = {
  show: route({ summary: "Show a project's retention settings", tags, params: projectParams, response: { 200: retentionShape } }),
  update: route({ summary: "Change a project's retention settings (null: back to the default)", tags, params: projectParams, body: retentionBody, response: { 200: retentionShape } }),
  collect: route({
    summary: 'Run retention and garbage collection now (admin only); dryRun lists what would go',
    tags,
    body: object({ dryRun: bool('list what would go and how many bytes, change nothing') }, [], { examples: [{ dryRun: true }] }),
    response: { 200: reportShape },
  }),
  last: route({
    summary: 'The last garbage collection and whether one runs now (admin only)',
    tags,
    response: { 200: object({ running: bool(), lastStartedAt: orNull(int()), lastFinishedAt: orNull(int()), lastReport: orNull(reportShape) }, ['running', 'lastReport']) },
  }),
};
