/** docs/graphql.md is generated from the assembled schema: the committed file must match what the script writes now. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { currentGraphqlDocs, DOC_PATH } from '../scripts/generate-graphql-docs.ts';

test('docs/graphql.md is up to date (run: node --import tsx scripts/generate-graphql-docs.ts)', async () => {
  const expected = await currentGraphqlDocs();
  const actual = readFileSync(DOC_PATH, 'utf8');
  if (actual !== expected) {
    const a = actual.split('\n');
    const e = expected.split('\n');
    const i = a.findIndex((line, n) => line !== e[n]);
    assert.unreachable(`docs/graphql.md is stale from line ${i + 1}: has ${JSON.stringify(a[i])}, the schema gives ${JSON.stringify(e[i])}`);
  }
});

test('the reference documents every root field and the limits of the code', async () => {
  const doc = readFileSync(DOC_PATH, 'utf8');
  for (const f of ['viewer', 'userCreate', 'projectCreate', 'projectChanged', 'node']) assert.match(doc, new RegExp(`\\| \`${f}\` \\|`));
  assert.match(doc, /\| depth \| 12 levels \|/);
});

test.run();
