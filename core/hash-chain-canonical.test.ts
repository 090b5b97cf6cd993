import { test } from 'uvu';
import * as assert from 'uvu/assert';
import canonicalize from 'canonicalize';
import { createHash } from 'node:crypto';
import { canonical, canonicalBody, chainHash, quote } from './hash-chain.ts';
import { uuidv7 } from './ids.ts';

const reference = canonicalize as unknown as (v: unknown) => string;

function randomValue(depth: number): unknown {
  const r = Math.random();
  if (depth > 3 || r < 0.3) {
    const k = Math.floor(Math.random() * 6);
    return [null, true, Math.floor(Math.random() * 1e9) - 5e8, Math.random() * 1e6, `s${Math.random().toString(36)}é\u2028"\\\n😀`, 1e21, ["plain", "tab\there", "\u007f\u0080", ""][Math.floor(Math.random() * 4)], -0][Math.floor(Math.random() * 8)];
  }
  if (r < 0.5) return Array.from({ length: Math.floor(Math.random() * 4) }, () => randomValue(depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = 0; i < Math.floor(Math.random() * 6); i++) o[['b', 'a', 'é', 'A', '10', '2', '\u20ac', 'aa', '😀'][Math.floor(Math.random() * 9)] + i] = randomValue(depth + 1);
  return o;
}

test('canonical JSON matches the RFC 8785 reference implementation on 5,000 random values', () => {
  for (let i = 0; i < 5000; i++) {
    const v = randomValue(0);
    assert.is(canonical(v), reference(v));
  }
});

test('the fast body serializer equals canonical({data, metadata}) with and without optional keys', () => {
  const base = { actor: { kind: 'tenant', id: 'u_"1' }, correlationId: 'c', eventId: uuidv7(), occurredAt: '2026-01-01T00:00:00.000Z', recordedAt: '2026-01-01T00:00:00.001Z', version: 2 };
  const variants = [base, { ...base, tenantId: 'u_1', commandId: 'k', causationId: 'z' }, { ...base, extra: { b: 1, a: [2] } }, { ...base, tenantId: undefined }];
  for (const m of variants) for (let i = 0; i < 200; i++) {
    const data = randomValue(0);
    assert.is(canonicalBody(data, m as any), canonical({ data, metadata: m }));
  }
});

test('quote is JSON.stringify of a string: plain, escaped, controls, paired and lone surrogates', () => {
  const samples = ['', 'plain', 'u_1', '2026-01-01T00:00:00.000Z', 'a"b', 'back\\slash', 'tab\there', '\u0000\u001f\u0020', '\u007f\u0080\u2028',
    '😀', 'x\ud83d', '\ude00y', '\udfff\ud800', 'é€'];
  for (let i = 0; i < 2000; i++) samples.push(String.fromCharCode(...Array.from({ length: 1 + (i % 5) }, () => Math.floor(Math.random() * 0x10000))));
  for (const s of samples) assert.is(quote(s), JSON.stringify(s), JSON.stringify(s));
});

test('canonical JSON refuses values JSON cannot carry', () => {
  for (const bad of [NaN, Infinity, undefined, () => 1, 10n]) assert.throws(() => canonical(bad as unknown));
});

test('chainHash is sha256 of prev, stream, revision, type and body joined by newlines', () => {
  const expected = createHash('sha256').update('p\nAccount-a1\n3\nDeposited\n{"x":1}').digest('hex');
  assert.is(chainHash('p', 'Account-a1', 3, 'Deposited', '{"x":1}'), expected);
});

test('uuidv7: version 7, RFC variant, time-ordered and unique', () => {
  const ids = Array.from({ length: 20_000 }, () => uuidv7());
  for (const id of ids.slice(0, 100)) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.is(new Set(ids).size, ids.length);
  const sorted = [...ids].sort();
  assert.equal(sorted, ids, 'ids generated in sequence sort in sequence');
  const ms = parseInt(ids[0].replace(/-/g, '').slice(0, 12), 16);
  assert.ok(Math.abs(ms - Date.now()) < 5000);
});

test.run();
