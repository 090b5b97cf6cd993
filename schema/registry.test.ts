import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { defineCategory, defineEvent, SchemaError, validateEvent } from './registry.ts';
import { SqliteEventStore } from '../core/event-store/sqlite.ts';
import { newEvent } from '../core/testing/events.ts';

const dir = mkdtempSync(join(tmpdir(), 'ledger-schema-'));
defineCategory('Gadget', 'test', 'schema tests');
defineEvent({ type: 'GadgetMade', version: 1, category: 'Gadget', description: 'v1: size in MB', schema: z.object({ sizeMB: z.number().int() }).strict() });

test('validation names every wrong field', () => {
  try { validateEvent('GadgetMade', { sizeMB: 'x', colour: 1 }); assert.unreachable(); } catch (e) {
    assert.instance(e, SchemaError);
    assert.match((e as Error).message, /sizeMB/);
  }
});

test('v1 events stored before v2 existed are read as v2 through the upcaster; new appends are v2', async () => {
  const path = join(dir, 'e.sqlite');
  let store = new SqliteEventStore({ path });
  await store.append('Gadget-g1', [newEvent('GadgetMade', { sizeMB: 3 })]);
  await store.close();
  // A later release changes the shape: a new version with an upcaster; old events are never rewritten.
  defineEvent({ type: 'GadgetMade', version: 2, category: 'Gadget', description: 'v2: size in MiB and a unit', upcast: (v1: { sizeMB: number }) => ({ sizeMiB: v1.sizeMB, unit: 'MiB' }), schema: z.object({ sizeMiB: z.number().int(), unit: z.literal('MiB') }).strict() });
  store = new SqliteEventStore({ path });
  await store.append('Gadget-g1', [newEvent('GadgetMade', { sizeMiB: 4, unit: 'MiB' })]);
  const [old, fresh] = await store.readStream('Gadget-g1');
  assert.equal(old.data, { sizeMiB: 3, unit: 'MiB' });
  assert.is(old.metadata.version, 2);
  assert.equal(fresh.data, { sizeMiB: 4, unit: 'MiB' });
  assert.is(await store.verifyStream('Gadget-g1'), null, 'upcasting on read must not disturb the chain');
  let refused = false;
  try { await store.append('Gadget-g1', [newEvent('GadgetMade', { sizeMB: 5 })]); } catch { refused = true; }
  assert.ok(refused, 'the old shape is no longer accepted for new events');
  await store.close();
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
