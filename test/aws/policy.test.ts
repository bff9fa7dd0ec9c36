import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { REQUIRED_ACTIONS } from '../../src/targets/aws/index.js';
import { repoRoot } from '../helpers/paths.js';

test('docs/aws-iam-policy.json allows exactly the actions aws check simulates', async () => {
  const policy = JSON.parse(await readFile(join(repoRoot, 'docs', 'aws-iam-policy.json'), 'utf8')) as { Statement: { Effect: string; Action: string[] }[] };
  const documented = policy.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => s.Action);
  assert.deepEqual([...documented].sort(), [...REQUIRED_ACTIONS].sort());
});
