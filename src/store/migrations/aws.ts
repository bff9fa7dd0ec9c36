import type { Kysely, Migration } from 'kysely';

/** The AWS target (issue 13): team access, where each project goes live, what each deployment did on AWS. Never change what a shipped migration does; add a new one. */
export const awsMigrations: Record<string, Migration> = {
  '0018_aws': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('team_aws_access')
        .addColumn('team_id', 'text', (c) => c.primaryKey().references('teams.id').onDelete('cascade'))
        // 'keys' (an access key pair) | 'role' (a role Slipway assumes with STS)
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('region', 'text', (c) => c.notNull())
        .addColumn('role_arn', 'text')
        // the last 4 characters of the access key id, to recognise it (null: a role)
        .addColumn('key_hint', 'text')
        // SecretBox-encrypted JSON: { accessKeyId, secretAccessKey } or { externalId }
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('deploy_targets')
        .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        // '' is the whole project; a name is one environment's own choice
        .addColumn('environment', 'text', (c) => c.notNull())
        // 'edge' | 'aws'
        .addColumn('target', 'text', (c) => c.notNull())
        // JSON: the AWS resources to use (named by the user, or made and recorded by Slipway)
        .addColumn('resources', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('deploy_targets_pk', ['project_id', 'environment'])
        .execute();
      await db.schema
        .createTable('aws_deployments')
        .addColumn('deployment_id', 'text', (c) => c.primaryKey().references('deployments.id').onDelete('cascade'))
        // JSON: the AWS side of one deployment (steps with timings, versions, alias, asset root)
        .addColumn('record', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
};
