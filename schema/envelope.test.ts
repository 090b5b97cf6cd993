import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventMetadataInput, parseEventMetadataInput } from './envelope.ts';
import { uuidv7 } from '../core/ids.ts';

/** parseEventMetadataInput must answer exactly what zod answers: same acceptance, same output. */
function same(m: unknown, label: string) {
  const ours = parseEventMetadataInput(m);
  const zod = EventMetadataInput.safeParse(m);
  assert.is(ours.success, zod.success, `${label}: accepted by one and not the other`);
  if (ours.success && zod.success) {
    assert.equal(ours.data, zod.data, `${label}: different output`);
    assert.equal(Object.keys(ours.data), Object.keys(zod.data), `${label}: different keys`);
    assert.ok(ours.data !== m && ours.data.actor !== (m as { actor: unknown }).actor, `${label}: output shares the input's objects`);
  }
}

const base = () => ({ eventId: uuidv7(), occurredAt: '2026-11-21T12:00:00.000Z', actor: { kind: 'system', id: 'bench' }, correlationId: 'c1', version: 1 });

test('plain metadata is accepted with the same output as zod', () => {
  same(base(), 'base');
  same({ ...base(), tenantId: 't1', causationId: 'x', commandId: 'cmd-1' }, 'all optional keys');
  same({ ...base(), eventId: '0190F5C2-7A4B-4CC3-9D55-2B8F0E7D9A11' }, 'upper-case v4 uuid');
  same({ ...base(), occurredAt: '2026-11-21T12:00:00Z' }, 'no fraction');
  same({ ...base(), actor: { kind: 'tenant', id: 'x'.repeat(200) } }, 'longest actor id');
});

test('anything unusual gets zod\'s answer', () => {
  const cases: Record<string, unknown> = {
    'not an object': 'x', null: null, array: [], 'no eventId': { ...base(), eventId: undefined },
    'bad uuid': { ...base(), eventId: 'not-a-uuid' }, 'nil uuid': { ...base(), eventId: '00000000-0000-0000-0000-000000000000' },
    'uuid version 9': { ...base(), eventId: '0190f5c2-7a4b-9cc3-9d55-2b8f0e7d9a11' },
    'local time': { ...base(), occurredAt: '2026-11-21T12:00:00.000+01:00' }, 'numeric time': { ...base(), occurredAt: 5 },
    'unknown actor kind': { ...base(), actor: { kind: 'robot', id: 'x' } }, 'empty actor id': { ...base(), actor: { kind: 'system', id: '' } },
    'actor id too long': { ...base(), actor: { kind: 'system', id: 'x'.repeat(201) } },
    'actor with extra key': { ...base(), actor: { kind: 'system', id: 'x', extra: 1 } }, 'actor missing': { ...base(), actor: undefined },
    'empty correlation': { ...base(), correlationId: '' }, 'long correlation': { ...base(), correlationId: 'x'.repeat(201) },
    'version 0': { ...base(), version: 0 }, 'version 1.5': { ...base(), version: 1.5 }, 'version string': { ...base(), version: '1' },
    'version unsafe': { ...base(), version: 2 ** 60 }, 'unknown key': { ...base(), extra: 1 },
    'undefined optional': { ...base(), tenantId: undefined }, 'empty tenant': { ...base(), tenantId: '' },
    'numeric commandId': { ...base(), commandId: 7 }, 'long causation': { ...base(), causationId: 'x'.repeat(201) },
    'hash given': { ...base(), hash: 'abc' }, 'class instance': Object.assign(new (class M {})(), base()),
  };
  for (const [label, m] of Object.entries(cases)) same(m, label);
});

test('random mutations of plain metadata agree with zod', () => {
  const values = [undefined, null, '', 'x', 'x'.repeat(201), 0, 1, -1, 1.5, true, {}, [], '2026-11-21T12:00:00.000Z', uuidv7(), { kind: 'agent', id: 'a' }];
  const keys = ['eventId', 'occurredAt', 'actor', 'tenantId', 'correlationId', 'causationId', 'commandId', 'version', 'other'];
  for (let i = 0; i < 3000; i++) {
    const m: Record<string, unknown> = base();
    for (let j = Math.floor(Math.random() * 3); j > 0; j--) {
      const k = keys[Math.floor(Math.random() * keys.length)];
      if (Math.random() < 0.2) delete m[k]; else m[k] = values[Math.floor(Math.random() * values.length)];
    }
    same(m, JSON.stringify(m));
  }
});

test.run();
