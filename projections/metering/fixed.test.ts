import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { addDecimals, big, divHalfEven, formatScaled, microUnitHours, UnitMs } from './fixed.ts';

test('half-even division', () => {
  assert.is(divHalfEven(5n, 2n), 2n);
  assert.is(divHalfEven(7n, 2n), 4n);
  assert.is(divHalfEven(-5n, 2n), -2n);
  assert.is(divHalfEven(10n, 3n), 3n);
  assert.is(divHalfEven(11n, 3n), 4n);
});
test('unit-milliseconds to micro unit-hours', () => {
  // 4 cores for 2.5 h = 10 core-hours
  assert.is(microUnitHours(4 * 2.5 * 3_600_000, 1), 10_000_000);
  // 8192 MiB for 1 h = 8 GiB-hours
  assert.is(microUnitHours(8192 * 3_600_000, 1024), 8_000_000);
  // 1 core for 20 minutes = 0.333333 core-hours (rounded half even)
  assert.is(microUnitHours(20 * 60_000, 1), 333_333);
  // weighted by 0.25
  assert.is(microUnitHours(4 * 3_600_000, 1, 25n, 2), 1_000_000);
  // 1.8 s = 0.0005 h; 1 ms = 0.000000277… h → 0 micro-units; 2 ms → 0.000000555… h → 1 micro-unit
  assert.is(microUnitHours(1_800, 1), 500);
  assert.is(microUnitHours(1, 1), 0);
  assert.is(microUnitHours(2, 1), 1);
});
test('the Number fast path and the BigInt path agree', () => {
  let seed = 7;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  for (let i = 0; i < 20_000; i++) {
    const unitMs = rnd(2 ** 30) * (1 + rnd(2 ** 16)) + rnd(1000);
    const divisor = [1, 1024][rnd(2)];
    const w = BigInt(rnd(1000));
    const ws = rnd(4);
    const fast = microUnitHours(unitMs, divisor, w, ws);
    const slow = microUnitHours(BigInt(unitMs), divisor, w, ws); // a bigint argument takes the BigInt path
    assert.is(big(fast), big(slow), `unitMs ${unitMs} divisor ${divisor} weight ${w}e-${ws}`);
    assert.is(big(fast), divHalfEven(BigInt(unitMs) * 1_000_000n * w, BigInt(divisor) * 3_600_000n * 10n ** BigInt(ws)));
  }
});
test('UnitMs spills into BigInt beyond 2^53 and stays exact', () => {
  const u = new UnitMs();
  u.add(1_000_000_000, 2_678_400_000); // 1e9 units for a 31-day month
  u.add(1_000_000_000, 2_678_400_000);
  assert.is(u.value(), 2n * 1_000_000_000n * 2_678_400_000n);
  const v = new UnitMs();
  v.add(3, 1000); v.add(4, 500);
  assert.is(v.value(), 5000);
});
test('formatting: the Number path and the BigInt path write the same text', () => {
  let seed = 11;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  for (let i = 0; i < 20_000; i++) {
    const v = (rnd(2) ? -1 : 1) * (rnd(2 ** 31) * rnd(2 ** 21) + rnd(100));
    const scale = rnd(16);
    assert.is(formatScaled(v, scale), formatScaled(BigInt(v), scale), `${v} / 10^${scale}`);
  }
  assert.is(formatScaled(Number.MAX_SAFE_INTEGER, 15), '9.007199254740991');
  assert.is(formatScaled(-5, 3), '-0.005');
  assert.is(formatScaled(1200, 2), '12');
});
test('formatting and adding decimals', () => {
  assert.is(formatScaled(2500000n, 6), '2.5');
  assert.is(formatScaled(-300n, 6), '-0.0003');
  assert.is(formatScaled(12_000_000n, 6), '12');
  assert.is(formatScaled(0n, 6), '0');
  assert.is(formatScaled(5n, 0), '5');
  assert.is(formatScaled(2_500_000, 6), '2.5');
  assert.is(formatScaled(-300, 6), '-0.0003');
  assert.is(addDecimals(['0.1', '0.2', '-0.05']), '0.25');
  assert.is(addDecimals([]), '0');
});

test.run();
