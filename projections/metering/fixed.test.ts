import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { addDecimals, divHalfEven, formatScaled, microUnitHours, UnitMs } from './fixed.ts';

test('half-even division', () => {
  assert.is(divHalfEven(5n, 2n), 2n);
  assert.is(divHalfEven(7n, 2n), 4n);
  assert.is(divHalfEven(-5n, 2n), -2n);
  assert.is(divHalfEven(10n, 3n), 3n);
  assert.is(divHalfEven(11n, 3n), 4n);
});
test('unit-milliseconds to micro unit-hours', () => {
  // 4 cores for 2.5 h = 10 core-hours
  assert.is(microUnitHours(BigInt(4 * 2.5 * 3_600_000), 1), 10_000_000n);
  // 8192 MiB for 1 h = 8 GiB-hours
  assert.is(microUnitHours(BigInt(8192 * 3_600_000), 1024), 8_000_000n);
  // 1 core for 20 minutes = 0.333333 core-hours (rounded half even)
  assert.is(microUnitHours(BigInt(20 * 60_000), 1), 333_333n);
  // weighted by 0.25
  assert.is(microUnitHours(BigInt(4 * 3_600_000), 1, 25n, 2), 1_000_000n);
});
test('UnitMs spills into BigInt beyond 2^53 and stays exact', () => {
  const u = new UnitMs();
  u.add(1_000_000_000, 2_678_400_000); // 1e9 units for a 31-day month
  u.add(1_000_000_000, 2_678_400_000);
  assert.is(u.value(), 2n * 1_000_000_000n * 2_678_400_000n);
  const v = new UnitMs();
  v.add(3, 1000); v.add(4, 500);
  assert.is(v.value(), 5000n);
});
test('formatting and adding decimals', () => {
  assert.is(formatScaled(2500000n, 6), '2.5');
  assert.is(formatScaled(-300n, 6), '-0.0003');
  assert.is(formatScaled(12_000_000n, 6), '12');
  assert.is(formatScaled(0n, 6), '0');
  assert.is(formatScaled(5n, 0), '5');
  assert.is(addDecimals(['0.1', '0.2', '-0.05']), '0.25');
  assert.is(addDecimals([]), '0');
});

test.run();
