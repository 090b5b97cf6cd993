import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { generateCatalogue } from '../scripts/generate-docs.ts';
import { eventDefinitions } from './registry.ts';

test('docs/events.md is generated from the current schemas (run `npm run docs` after changing one)', async () => {
  const fresh = await generateCatalogue();
  const committed = readFileSync(new URL('../docs/events.md', import.meta.url), 'utf8');
  assert.ok(committed === fresh, 'docs/events.md is out of date: run `npm run docs`');
});

test('every registered event type appears in the catalogue', async () => {
  const text = await generateCatalogue();
  for (const e of eventDefinitions().filter((d) => !['Account', 'Gadget'].includes(d.category))) {
    assert.ok(text.includes(`#### \`${e.type}\` v${e.version}`), `${e.type} v${e.version} missing`);
  }
});

test.run();
