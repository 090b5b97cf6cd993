import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCount, parsePositionOrTime, parseTime } from './time.ts';

test('times: dates, minutes, offsets, canonical output', () => {
  assert.is(parseTime('2025-03-01'), '2025-03-01T00:00:00.000Z');
  assert.is(parseTime('2025-03-01T09:30Z'), '2025-03-01T09:30:00.000Z');
  assert.is(parseTime('2025-03-01T09:30:00.5Z'), '2025-03-01T09:30:00.500Z');
  assert.is(parseTime('2025-03-01T11:30:00+02:00'), '2025-03-01T09:30:00.000Z');
  for (const bad of ['yesterday', '2025-13-01', '2025-03-01T25:00Z', '2025-03-01 09:30', '']) assert.throws(() => parseTime(bad, '--from'), /--from/);
});

test('positions or times; counts', () => {
  assert.equal(parsePositionOrTime('42', '--until'), { position: 42 });
  assert.equal(parsePositionOrTime('2025-03-01', '--until'), { time: '2025-03-01T00:00:00.000Z' });
  assert.throws(() => parsePositionOrTime('0', '--until'), /≥ 1/);
  assert.is(parseCount('50', '--limit', { min: 1, max: 100 }), 50);
  for (const bad of ['0', '101', '-1', '1.5', 'x']) assert.throws(() => parseCount(bad, '--limit', { min: 1, max: 100 }), /--limit/);
});

test.run();
