import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { uuidv7 } from './ids.ts';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('uuidv7: RFC 9562 version 7 layout, the time in the first 48 bits', () => {
  const at = Date.UTC(2026, 10, 21, 12, 0, 0, 123);
  const id = uuidv7(at + 1000);
  assert.match(id, V7);
  assert.is(parseInt(id.slice(0, 8) + id.slice(9, 13), 16), at + 1000);
});

test('uuidv7: strictly increasing within a millisecond, across milliseconds and past the counter', () => {
  let prev = uuidv7();
  for (let i = 0; i < 20_000; i++) {
    const id = i % 5000 === 0 ? uuidv7(Date.now() + 5000 + i) : uuidv7();
    assert.match(id, V7);
    assert.ok(id > prev, `${id} after ${prev}`);
    prev = id;
  }
});

test('uuidv7: a clock that goes back does not go back in ids', () => {
  const a = uuidv7(Date.now() + 60_000);
  const b = uuidv7(Date.now() - 60_000);
  assert.ok(b > a);
});

test.run();
