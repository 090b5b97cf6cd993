/**
 * Hand-computed metering cases. Every event log is built through the real deciders (Resources, Billing, Projects)
 * with explicit event times; the expected quantities and amounts below are worked out by hand from the price book.
 *
 * Price book v1 (EUR, effective 2025-01-01T00:00Z):
 *   cpu.core-hours 0.04   (state weights: provisioning 0, stopped 0.5, failed 0)
 *   ram.gib-hours  0.005  (same weights)
 *   disk.gib-hours 0.0002, ip.ipv4-hours 0.005, bandwidth.mbps-hours 0.0001
 *   image.gib-hours tiers: first 100 GiB 0.001, up to 1000 GiB 0.0005, beyond 0.0002
 *   template weights: normal 1, standard 1.5, enhanced 2
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { addDecimals, testLedger, vmHost, type TestLedger } from '../projections/metering/testing.ts';
import type { PriceBookInput } from '../layers/metering/pricebook.ts';
import { userDecider } from '../layers/projects/user/decider.ts';
import { projectDecider } from '../layers/projects/project/decider.ts';
import '../layers/components/ccontract/events.ts';

const weights = { provisioning: '0', stopped: '0.5', failed: '0' };
const V1: PriceBookInput = {
  effectiveFrom: '2025-01-01T00:00:00Z', currency: 'EUR', provider: 'Test Cloud',
  meters: {
    'cpu.core-hours': { price: '0.04', stateWeights: weights },
    'ram.gib-hours': { price: '0.005', stateWeights: weights },
    'disk.gib-hours': { price: '0.0002' },
    'ip.ipv4-hours': { price: '0.005' },
    'bandwidth.mbps-hours': { price: '0.0001' },
    'image.gib-hours': { tiers: [{ upTo: 100, price: '0.001' }, { upTo: 1000, price: '0.0005' }, { price: '0.0002' }] },
  },
  templateWeights: { normal: '1', standard: '1.5', enhanced: '2' },
};

type Row = Record<string, string>;
function pick(rows: Row[], where: Partial<Row>): Row {
  const found = rows.filter((r) => Object.entries(where).every(([k, v]) => r[k] === v));
  assert.is(found.length, 1, `expected one row where ${JSON.stringify(where)}, found ${found.length}`);
  return found[0];
}
const total = (rows: Row[], column = 'BilledCost') => addDecimals(rows.map((r) => r[column]));
/** [ConsumedQuantity, PricingQuantity, BilledCost] */
const nums = (r: Row) => [r.ConsumedQuantity, r.PricingQuantity, r.BilledCost];

let t: TestLedger;
test.before.each(async () => {
  t = await testLedger();
  await t.publish(V1, '2024-12-20T00:00:00Z');
  await vmHost(t, 'h_1', '2024-12-20T00:00:00Z');
  await vmHost(t, 'h_2', '2024-12-20T00:00:00Z');
});
test.after.each(async () => { await t.dispose(); });

test('start, stop, resize, start, hibernate, activate across the January/February boundary', async () => {
  const x = { hostId: 'h_1', xnodeId: 'xn_a' };
  await t.res('SliceXNode', { ...x, size: { cpuCores: 2, ramMiB: 4096, diskGiB: 20 } }, '2025-01-31T20:00:00Z');
  await t.res('ReportXNodeObserved', { ...x, observed: 'running', generation: 1, observedAt: '2025-01-31T20:30:00Z' }, '2025-01-31T20:30:00Z');
  await t.res('PowerOffXNode', x, '2025-01-31T22:00:00Z');
  await t.res('ResizeXNode', { ...x, size: { cpuCores: 4, ramMiB: 8192, diskGiB: 30 } }, '2025-02-01T01:00:00Z');
  await t.res('PowerOnXNode', x, '2025-02-01T02:00:00Z');
  await t.res('HibernateXNode', x, '2025-02-01T04:00:00Z');
  await t.res('ActivateXNode', x, '2025-02-01T10:00:00Z');
  await t.res('ReleaseXNode', x, '2025-02-01T12:00:00Z');

  const jan = (await t.export({ period: '2025-01' })).rows;
  // provisioning 20:00–20:30 (0.5 h): cores and RAM weigh 0; disk 20 GiB × 0.5 h = 10 GiB-h × 0.0002
  assert.equal(nums(pick(jan, { x_Meter: 'cpu.core-hours', x_State: 'provisioning' })), ['1', '0', '0']);
  assert.equal(nums(pick(jan, { x_Meter: 'ram.gib-hours', x_State: 'provisioning' })), ['2', '0', '0']);
  assert.equal(nums(pick(jan, { x_Meter: 'disk.gib-hours', x_State: 'provisioning' })), ['10', '10', '0.002']);
  // running 20:30–22:00 (1.5 h): 2 cores → 3 core-h × 0.04; 4 GiB → 6 GiB-h × 0.005; 20 GiB → 30 GiB-h × 0.0002
  assert.equal(nums(pick(jan, { x_Meter: 'cpu.core-hours', x_State: 'running' })), ['3', '3', '0.12']);
  assert.equal(nums(pick(jan, { x_Meter: 'ram.gib-hours', x_State: 'running' })), ['6', '6', '0.03']);
  assert.equal(nums(pick(jan, { x_Meter: 'disk.gib-hours', x_State: 'running' })), ['30', '30', '0.006']);
  // stopped 22:00 until the period's end (2 h, clipped at 2025-02-01T00:00Z): weight 0.5 on cores and RAM
  const janStopped = pick(jan, { x_Meter: 'cpu.core-hours', x_State: 'stopped' });
  assert.equal(nums(janStopped), ['4', '2', '0.08']);
  assert.is(janStopped.ChargePeriodStart, '2025-01-31T22:00:00Z');
  assert.is(janStopped.ChargePeriodEnd, '2025-02-01T00:00:00Z');
  assert.equal(nums(pick(jan, { x_Meter: 'ram.gib-hours', x_State: 'stopped' })), ['8', '4', '0.02']);
  assert.equal(nums(pick(jan, { x_Meter: 'disk.gib-hours', x_State: 'stopped' })), ['40', '40', '0.008']);
  assert.is(jan.length, 9);
  assert.is(total(jan), '0.266');

  const feb = (await t.export({ period: '2025-02' })).rows;
  // stopped, carried over: 00:00–01:00 at 2 cores/4 GiB/20 GiB, then resized: 01:00–02:00 at 4 cores/8 GiB/30 GiB
  //   cores 2 + 4 = 6 core-h (pricing 3) × 0.04 = 0.12; RAM 4 + 8 = 12 GiB-h (pricing 6) × 0.005 = 0.03; disk 20 + 30 = 50 × 0.0002 = 0.01
  assert.equal(nums(pick(feb, { x_Meter: 'cpu.core-hours', x_State: 'stopped' })), ['6', '3', '0.12']);
  assert.equal(nums(pick(feb, { x_Meter: 'ram.gib-hours', x_State: 'stopped' })), ['12', '6', '0.03']);
  assert.equal(nums(pick(feb, { x_Meter: 'disk.gib-hours', x_State: 'stopped' })), ['50', '50', '0.01']);
  // running 02:00–04:00 and 10:00–12:00 (4 h): 16 core-h × 0.04 = 0.64; 32 GiB-h × 0.005 = 0.16; 120 GiB-h × 0.0002 = 0.024
  const running = pick(feb, { x_Meter: 'cpu.core-hours', x_State: 'running' });
  assert.equal(nums(running), ['16', '16', '0.64']);
  assert.is(running.ChargePeriodStart, '2025-02-01T02:00:00Z');
  assert.is(running.ChargePeriodEnd, '2025-02-01T12:00:00Z');
  assert.equal(nums(pick(feb, { x_Meter: 'ram.gib-hours', x_State: 'running' })), ['32', '32', '0.16']);
  assert.equal(nums(pick(feb, { x_Meter: 'disk.gib-hours', x_State: 'running' })), ['120', '120', '0.024']);
  // hibernated 04:00–10:00 (6 h): the disk only — 30 GiB × 6 h = 180 GiB-h × 0.0002 = 0.036; no CPU or RAM rows
  assert.equal(nums(pick(feb, { x_Meter: 'disk.gib-hours', x_State: 'hibernated' })), ['180', '180', '0.036']);
  assert.not.ok(feb.some((r) => r.x_State === 'hibernated' && r.x_Meter !== 'disk.gib-hours'));
  assert.is(feb.length, 7);
  assert.is(total(feb), '1.02');
  for (const r of [...jan, ...feb]) {
    assert.is(r.ChargeClass, '');
    assert.is(r.ChargeCategory, 'Usage');
    assert.is(r.BillingCurrency, 'EUR');
    assert.is(r.ResourceId, 'xn_a');
    assert.is(r.ServiceCategory, 'Compute');
  }
});

test('a replica fails over mid-hour: the old slice is fenced (disk only), the new one takes over; rolled up per CContract, project and user', async () => {
  await t.ledger.execute(userDecider, 'User-u_ann', { type: 'CreateUser', data: { userId: 'u_ann', name: 'Ann' } } as any, { actor: { kind: 'operator', id: 'op' }, occurredAt: '2025-03-01T00:00:00Z' });
  await t.ledger.execute(projectDecider, 'Project-p_shop', { type: 'CreateProject', data: { projectId: 'p_shop', ownerId: 'u_ann', name: 'Shop' } } as any, { actor: { kind: 'tenant', id: 'u_ann' }, occurredAt: '2025-03-01T00:00:00Z' });
  await t.append('CContract-c_web', 'ComponentRequested', {
    componentId: 'c_web', tenantId: 'u_ann', projectId: 'p_shop',
    type: { typeId: 'ct_cloud_host', name: 'cloud-host', version: 1, distribution: 'Cell', singleRunning: true, pool: { kind: 'resources' }, hostTypes: ['VM'] },
    sizeName: 'standard', size: { cpuCores: 2, cpuMHz: 0, ramMiB: 2048, diskGiB: 10, diskIops: 0 },
    access: 'Zone', zoneId: 'z_a', replicas: 1, writers: 1, estimated: { cpuCores: 2, cpuMHz: 0, ramMiB: 2048, diskGiB: 10, diskIops: 0 },
  }, '2025-03-03T08:40:00Z');
  await t.ledger.execute(projectDecider, 'Project-p_shop', { type: 'LinkComponent', data: { projectId: 'p_shop', componentId: 'c_web' } } as any, { actor: { kind: 'system', id: 'components' }, occurredAt: '2025-03-03T08:40:00Z' });
  const size = { cpuCores: 2, ramMiB: 2048, diskGiB: 10 };
  const one = { hostId: 'h_1', xnodeId: 'xn_c1' };
  const two = { hostId: 'h_2', xnodeId: 'xn_c2' };
  await t.res('SliceXNode', { ...one, size, ha: { componentId: 'c_web', replica: 0, epoch: 1 } }, '2025-03-03T08:45:00Z');
  await t.res('ReportXNodeObserved', { ...one, observed: 'running', generation: 1, observedAt: '2025-03-03T09:00:00Z' }, '2025-03-03T09:00:00Z');
  // h_1 is lost at 10:30: epoch 2 of replica 0 is cut on h_2, the old slice fenced; it is released at 11:00
  await t.res('SliceXNode', { ...two, size, ha: { componentId: 'c_web', replica: 0, epoch: 2 } }, '2025-03-03T10:30:00Z');
  await t.res('FenceXNode', { ...one, epoch: 2 }, '2025-03-03T10:30:00Z');
  await t.res('ReportXNodeObserved', { ...two, observed: 'running', generation: 1, observedAt: '2025-03-03T10:45:00Z' }, '2025-03-03T10:45:00Z');
  await t.res('ReleaseXNode', one, '2025-03-03T11:00:00Z');
  await t.res('ReleaseXNode', two, '2025-03-03T12:00:00Z');

  const { rows } = await t.export({ period: '2025-03' });
  // template standard: unit prices × 1.5 → cores 0.06, RAM 0.0075, disk 0.0003
  // xn_c1: provisioning 08:45–09:00 (0.25 h), running 09:00–10:30 (1.5 h), fenced 10:30–11:00 (0.5 h, disk only)
  const c1 = rows.filter((r) => r.ResourceId === 'xn_c1');
  assert.equal(nums(pick(c1, { x_Meter: 'cpu.core-hours', x_State: 'running' })), ['3', '3', '0.18']);
  assert.is(pick(c1, { x_Meter: 'cpu.core-hours', x_State: 'running' }).ListUnitPrice, '0.06');
  assert.equal(nums(pick(c1, { x_Meter: 'ram.gib-hours', x_State: 'running' })), ['3', '3', '0.0225']);
  assert.equal(nums(pick(c1, { x_Meter: 'disk.gib-hours', x_State: 'running' })), ['15', '15', '0.0045']);
  assert.equal(nums(pick(c1, { x_Meter: 'disk.gib-hours', x_State: 'provisioning' })), ['2.5', '2.5', '0.00075']);
  assert.equal(nums(pick(c1, { x_Meter: 'disk.gib-hours', x_State: 'fenced' })), ['5', '5', '0.0015']);
  assert.not.ok(c1.some((r) => r.x_State === 'fenced' && r.x_Meter !== 'disk.gib-hours'));
  assert.is(total(c1), '0.20925');
  // xn_c2: provisioning 10:30–10:45 (0.25 h), running 10:45–12:00 (1.25 h)
  const c2 = rows.filter((r) => r.ResourceId === 'xn_c2');
  assert.equal(nums(pick(c2, { x_Meter: 'cpu.core-hours', x_State: 'running' })), ['2.5', '2.5', '0.15']);
  assert.equal(nums(pick(c2, { x_Meter: 'ram.gib-hours', x_State: 'running' })), ['2.5', '2.5', '0.01875']);
  assert.equal(nums(pick(c2, { x_Meter: 'disk.gib-hours', x_State: 'running' })), ['12.5', '12.5', '0.00375']);
  assert.equal(nums(pick(c2, { x_Meter: 'disk.gib-hours', x_State: 'provisioning' })), ['2.5', '2.5', '0.00075']);
  assert.is(total(c2), '0.17325');
  for (const r of rows) {
    assert.is(r.SubAccountId, 'p_shop');
    assert.is(r.SubAccountName, 'Shop');
    assert.is(r.BillingAccountId, 'u_ann');
    assert.is(r.BillingAccountName, 'Ann');
    assert.ok(r.Tags.includes('"ledger/ccontract":"c_web"'));
  }
  // rolled up: one CContract, one project, one user — the same 0.3825 EUR
  const byC = (await t.export({ period: '2025-03', by: 'ccontract' })).rows;
  assert.equal(nums(pick(byC, { x_Meter: 'cpu.core-hours', x_State: 'running' })), ['5.5', '5.5', '0.33']);
  assert.equal(nums(pick(byC, { x_Meter: 'disk.gib-hours', x_State: 'provisioning' })), ['5', '5', '0.0015']);
  assert.ok(byC.every((r) => r.ResourceId === 'c_web' && r.ResourceType === 'CContract'));
  assert.is(total(byC), '0.3825');
  for (const by of ['project', 'user'] as const) {
    const g = (await t.export({ period: '2025-03', by })).rows;
    assert.is(total(g), '0.3825');
    assert.ok(g.every((r) => r.ResourceId === (by === 'project' ? 'p_shop' : 'u_ann')));
  }
});

test('a price change mid-period splits the usage at the new book\'s effective time', async () => {
  const x = { hostId: 'h_1', xnodeId: 'xn_p' };
  await t.res('SliceXNode', { ...x, size: { cpuCores: 1, ramMiB: 1024, diskGiB: 10 } }, '2025-04-01T00:00:00Z');
  await t.res('ReportXNodeObserved', { ...x, observed: 'running', generation: 1, observedAt: '2025-04-01T00:00:00Z' }, '2025-04-01T00:00:00Z');
  // v2, published on April 10th, raises the core price to 0.05 from April 15th
  await t.publish({ ...V1, effectiveFrom: '2025-04-15T00:00:00Z', meters: { ...V1.meters, 'cpu.core-hours': { price: '0.05', stateWeights: weights } } }, '2025-04-10T00:00:00Z', 'core price up');
  const { rows } = await t.export({ period: '2025-04' });
  // running the whole month: 14 days (336 h) at v1, 16 days (384 h) at v2
  const cpu1 = pick(rows, { x_Meter: 'cpu.core-hours', x_PriceBookVersion: '1' });
  const cpu2 = pick(rows, { x_Meter: 'cpu.core-hours', x_PriceBookVersion: '2' });
  assert.equal([...nums(cpu1), cpu1.ChargePeriodStart, cpu1.ChargePeriodEnd], ['336', '336', '13.44', '2025-04-01T00:00:00Z', '2025-04-15T00:00:00Z']);
  assert.equal([...nums(cpu2), cpu2.ChargePeriodStart, cpu2.ChargePeriodEnd], ['384', '384', '19.2', '2025-04-15T00:00:00Z', '2025-05-01T00:00:00Z']);
  assert.equal(nums(pick(rows, { x_Meter: 'ram.gib-hours', x_PriceBookVersion: '1' })), ['336', '336', '1.68']);
  assert.equal(nums(pick(rows, { x_Meter: 'ram.gib-hours', x_PriceBookVersion: '2' })), ['384', '384', '1.92']);
  assert.equal(nums(pick(rows, { x_Meter: 'disk.gib-hours', x_PriceBookVersion: '1' })), ['3360', '3360', '0.672']);
  assert.equal(nums(pick(rows, { x_Meter: 'disk.gib-hours', x_PriceBookVersion: '2' })), ['3840', '3840', '0.768']);
  assert.is(rows.length, 6);
  assert.is(total(rows), '37.68');
});

test('a late event after the period was closed: the closed export stays byte for byte, the next one carries corrections', async () => {
  const x = { hostId: 'h_1', xnodeId: 'xn_l' };
  await t.res('SliceXNode', { ...x, size: { cpuCores: 1, ramMiB: 1024, diskGiB: 10 } }, '2025-05-31T19:00:00Z');
  await t.res('ReportXNodeObserved', { ...x, observed: 'running', generation: 1, observedAt: '2025-05-31T20:00:00Z' }, '2025-05-31T20:00:00Z');
  await t.close('2025-05', '2025-06-01T02:00:00Z');
  const may = await t.export({ period: '2025-05' });
  // provisioning 19:00–20:00: disk 10 GiB-h × 0.0002 = 0.002; running 20:00 until the end of May (4 h): 4 core-h × 0.04,
  // 4 GiB-h × 0.005, 40 GiB-h × 0.0002
  assert.equal(nums(pick(may.rows, { x_Meter: 'cpu.core-hours', x_State: 'running' })), ['4', '4', '0.16']);
  assert.is(total(may.rows), '0.19');
  assert.is(may.summary.status, 'closed');

  // The agent was cut off; it reports after the close that the slice failed at 22:00 on May 31st.
  await t.res('ReportXNodeObserved', { ...x, observed: 'failed', generation: 1, observedAt: '2025-05-31T22:00:00Z' }, '2025-05-31T22:00:00Z');
  await t.res('ReleaseXNode', x, '2025-06-01T03:00:00Z');

  const mayAgain = await t.export({ period: '2025-05' });
  assert.is(mayAgain.text, may.text, 'a closed period\'s export never changes');
  assert.is(mayAgain.summary.sha256, may.summary.sha256);

  const june = await t.export({ period: '2025-06' });
  const regular = june.rows.filter((r) => r.ChargeClass === '');
  const corrections = june.rows.filter((r) => r.ChargeClass === 'Correction');
  // June itself: failed 00:00–03:00 (3 h): cores and RAM weigh 0; disk 30 GiB-h × 0.0002 = 0.006
  assert.equal(nums(pick(regular, { x_Meter: 'cpu.core-hours', x_State: 'failed' })), ['3', '0', '0']);
  assert.equal(nums(pick(regular, { x_Meter: 'disk.gib-hours', x_State: 'failed' })), ['30', '30', '0.006']);
  assert.is(regular.length, 3);
  // May, corrected: running 4 h → running 2 h + failed 2 h
  const cpuRun = pick(corrections, { x_Meter: 'cpu.core-hours', x_State: 'running' });
  assert.equal(nums(cpuRun), ['-2', '-2', '-0.08']);
  assert.is(cpuRun.x_CorrectedPeriod, '2025-05');
  assert.is(cpuRun.BillingPeriodStart, '2025-06-01T00:00:00Z');
  assert.is(cpuRun.ChargePeriodStart, '2025-05-31T20:00:00Z');
  assert.is(cpuRun.ChargePeriodEnd, '2025-06-01T00:00:00Z');
  assert.ok(cpuRun.ChargeDescription.startsWith('Correction of 2025-05'));
  assert.equal(nums(pick(corrections, { x_Meter: 'ram.gib-hours', x_State: 'running' })), ['-2', '-2', '-0.01']);
  assert.equal(nums(pick(corrections, { x_Meter: 'disk.gib-hours', x_State: 'running' })), ['-20', '-20', '-0.004']);
  assert.equal(nums(pick(corrections, { x_Meter: 'cpu.core-hours', x_State: 'failed' })), ['2', '0', '0']);
  assert.equal(nums(pick(corrections, { x_Meter: 'ram.gib-hours', x_State: 'failed' })), ['2', '0', '0']);
  assert.equal(nums(pick(corrections, { x_Meter: 'disk.gib-hours', x_State: 'failed' })), ['20', '20', '0.004']);
  assert.is(corrections.length, 6);
  assert.is(total(corrections), '-0.09');

  // Once June is closed, July carries no more May corrections; June's own export is fixed with them.
  await t.close('2025-06', '2025-07-01T00:00:00Z');
  const juneClosed = await t.export({ period: '2025-06' });
  assert.is(juneClosed.text, june.text);
  const july = await t.export({ period: '2025-07' });
  assert.is(july.rows.length, 0);
});

test('a public virtual network: IPv4 addresses and bandwidth held, per XNetwork and per RContract', async () => {
  await t.res('RegisterNetwork', { networkId: 'n_pub', regionId: 'r_eu', zoneId: 'z_a', name: 'public', bandwidthMbps: 10_000, publicIpPool: { cidrs: ['203.0.113.0/28'] }, switchCapacity: { segments: 100 } }, '2025-07-01T00:00:00Z');
  await t.res('AllocateNetworkSlice', { networkId: 'n_pub', sliceId: 'xnet_web', bandwidthMbps: 200, publicIps: 2, contractId: 'rc_web' }, '2025-07-01T06:00:00Z');
  await t.res('CreateXNetwork', { xnetworkId: 'xnet_web', networkId: 'n_pub', regionId: 'r_eu', zoneId: 'z_a', contractId: 'rc_web', cidr: '10.8.0.0/24', public: true, bandwidthMbps: 200, publicIps: ['203.0.113.1', '203.0.113.2'], segment: 1 }, '2025-07-01T06:00:00Z');
  await t.res('DeleteXNetwork', { xnetworkId: 'xnet_web' }, '2025-07-01T16:30:00Z');
  const { rows } = await t.export({ period: '2025-07' });
  // 10.5 h: 2 addresses → 21 IP-h × 0.005 = 0.105; 200 Mbps → 2100 Mbps-h × 0.0001 = 0.21
  assert.equal(nums(pick(rows, { x_Meter: 'ip.ipv4-hours' })), ['21', '21', '0.105']);
  assert.equal(nums(pick(rows, { x_Meter: 'bandwidth.mbps-hours' })), ['2100', '2100', '0.21']);
  assert.ok(rows.every((r) => r.ResourceId === 'xnet_web' && r.ServiceCategory === 'Networking' && r.x_State === 'active' && r.Tags.includes('"ledger/network":"n_pub"')));
  assert.is(pick(rows, { x_Meter: 'ip.ipv4-hours' }).ConsumedUnit, 'IP-Hours');
  const byK = (await t.export({ period: '2025-07', by: 'rcontract' })).rows;
  assert.ok(byK.every((r) => r.ResourceId === 'rc_web' && r.ResourceType === 'RContract'));
  assert.is(total(byK), '0.315');
});

test('tiers: image storage gets cheaper per GiB as it grows', async () => {
  await t.res('AllocateXImage', { ximageId: 'xi_1', regionId: 'r_eu', quota: { checkpoints: 10, sizeGiB: 2000 } }, '2025-08-01T00:00:00Z');
  await t.res('TakeXImageCheckpoint', { ximageId: 'xi_1', checkpointId: 'c1', sizeGiB: 150 }, '2025-08-01T00:00:00Z');
  await t.res('TakeXImageCheckpoint', { ximageId: 'xi_1', checkpointId: 'c2', sizeGiB: 1050 }, '2025-08-01T10:00:00Z');
  await t.res('ReleaseXImage', { ximageId: 'xi_1' }, '2025-08-01T12:00:00Z');
  const { rows } = await t.export({ period: '2025-08' });
  // 150 GiB for 10 h, then 1200 GiB for 2 h:
  //   tier 1 (first 100 GiB): 100 × 12 h = 1200 GiB-h × 0.001   = 1.2
  //   tier 2 (100–1000 GiB):   50 × 10 h + 900 × 2 h = 2300 GiB-h × 0.0005 = 1.15
  //   tier 3 (beyond 1000):   200 × 2 h = 400 GiB-h × 0.0002    = 0.08
  const tier = (n: number) => rows.find((r) => r.SkuPriceId.includes(`:t${n}:`))!;
  assert.equal(nums(tier(0)), ['1200', '1200', '1.2']);
  assert.equal(nums(tier(1)), ['2300', '2300', '1.15']);
  assert.equal(nums(tier(2)), ['400', '400', '0.08']);
  assert.is(tier(2).ListUnitPrice, '0.0002');
  assert.is(rows.length, 3);
  assert.ok(rows.every((r) => r.ServiceCategory === 'Storage' && r.ResourceType === 'XImage' && r.ConsumedUnit === 'GiB-Hours'));
  assert.is(total(rows), '2.43');
});

test('re-rating a closed period is explicit, recorded, and billed as corrections', async () => {
  const x = { hostId: 'h_1', xnodeId: 'xn_r' };
  await t.res('SliceXNode', { ...x, size: { cpuCores: 2, ramMiB: 1024, diskGiB: 10 } }, '2025-09-30T00:00:00Z');
  await t.res('ReportXNodeObserved', { ...x, observed: 'running', generation: 1, observedAt: '2025-09-30T00:00:00Z' }, '2025-09-30T00:00:00Z');
  await t.res('ReleaseXNode', x, '2025-09-30T10:00:00Z');
  await t.close('2025-09', '2025-10-01T00:00:00Z');
  const sep = await t.export({ period: '2025-09' });
  // 10 h running: 20 core-h × 0.04 = 0.8, 10 GiB-h × 0.005 = 0.05, 100 GiB-h × 0.0002 = 0.02
  assert.is(total(sep.rows), '0.87');
  // The disk price of September was wrong: publish v2 (effective in October) and re-rate September with it.
  await t.publish({ ...V1, effectiveFrom: '2025-10-01T00:00:00Z', meters: { ...V1.meters, 'disk.gib-hours': { price: '0.0001' } } }, '2025-10-02T00:00:00Z');
  await t.rerate('2025-09', 2, 'disk price of September corrected to 0.0001', '2025-10-02T00:00:00Z');
  assert.is((await t.export({ period: '2025-09' })).text, sep.text);
  const oct = (await t.export({ period: '2025-10' })).rows;
  // every September row at v1 is reversed and re-billed at v2; only the disk changes: 100 GiB-h × (0.0001 − 0.0002) = −0.01
  assert.equal(nums(pick(oct, { x_Meter: 'disk.gib-hours', x_PriceBookVersion: '1' })), ['-100', '-100', '-0.02']);
  assert.equal(nums(pick(oct, { x_Meter: 'disk.gib-hours', x_PriceBookVersion: '2' })), ['100', '100', '0.01']);
  assert.ok(oct.every((r) => r.ChargeClass === 'Correction' && r.x_CorrectedPeriod === '2025-09'));
  assert.is(oct.length, 6);
  assert.is(total(oct), '-0.01');
});

test('the embedded fast paths and the store port give the same bytes (every format, roll-up and granularity)', async () => {
  const x = { hostId: 'h_1', xnodeId: 'xn_g' };
  await t.res('SliceXNode', { ...x, size: { cpuCores: 2, ramMiB: 2048, diskGiB: 20 } }, '2025-11-29T22:10:00Z');
  await t.res('ReportXNodeObserved', { ...x, observed: 'running', generation: 1, observedAt: '2025-11-29T23:00:00Z' }, '2025-11-29T23:00:00Z');
  await t.res('HibernateXNode', x, '2025-11-30T10:45:00Z');
  await t.close('2025-11', '2025-12-01T00:00:00Z');
  await t.res('ActivateXNode', x, '2025-11-30T20:00:00Z'); // late: activated before the close, recorded after
  await t.res('AllocateXImage', { ximageId: 'xi_g', regionId: 'r_eu', quota: { checkpoints: 5, sizeGiB: 500 } }, '2025-12-01T00:00:00Z');
  await t.res('TakeXImageCheckpoint', { ximageId: 'xi_g', checkpointId: 'c1', sizeGiB: 120 }, '2025-12-02T00:00:00Z');
  const { exportPeriod } = await import('../projections/metering/export.ts');
  for (const format of ['focus-csv', 'jsonl'] as const) {
    for (const by of ['resource', 'project', 'ccontract', 'rcontract', 'user'] as const) {
      for (const granularity of ['period', 'day', 'hour'] as const) {
        const texts: string[] = [];
        for (const generic of [false, true]) {
          const chunks: string[] = [];
          const s = await exportPeriod(t.ledger.store, { period: '2025-12', format, by, granularity }, { write: (c) => { chunks.push(c.toString('utf8')); } }, { generic });
          assert.ok(s.rows > 0 && s.correctionRows > 0, `${format} ${by} ${granularity}`);
          texts.push(chunks.join(''));
        }
        assert.is(texts[1], texts[0], `${format} by ${by} per ${granularity}`);
      }
    }
  }
  // two threads (the stream index split in two ranges, the second half exported by a worker) give the same bytes
  const { exportPeriodParallel } = await import('../projections/metering/parallel.ts');
  const { splitRanges, sqlitePathOf } = await import('../projections/metering/source.ts');
  const split = splitRanges(sqlitePathOf(t.ledger.store)!, 1)!;
  assert.equal(split.map((side) => side.map((r) => `${r.from}…${r.to}`)), [['Host-…Host-h_2'], ['Host-h_2…Host.', 'XImage-…XImage.', 'XNetwork-…XNetwork.']]);
  await t.res('SliceXNode', { hostId: 'h_2', xnodeId: 'xn_h2', size: { cpuCores: 1, ramMiB: 1024, diskGiB: 10 } }, '2025-12-03T00:00:00Z');
  for (const format of ['focus-csv', 'jsonl'] as const) {
    const one: string[] = [];
    const two: string[] = [];
    const a = await exportPeriod(t.ledger.store, { period: '2025-12', format }, { write: (c) => { one.push(c.toString('utf8')); } });
    const b = await exportPeriodParallel(t.ledger.store, { period: '2025-12', format }, { write: (c) => { two.push(c.toString('utf8')); } }, { minEvents: 1, threads: 2 });
    assert.is(two.join(''), one.join(''));
    assert.is(b.threads, 2);
    assert.equal({ ...b, threads: 0 }, { ...a, threads: 0 });
    assert.ok(one.join('').includes('xn_h2') && one.join('').includes('xn_g'));
  }
  // hourly rows of November 30th add up to the period's
  const hourly = (await t.export({ period: '2025-11', granularity: 'hour' })).rows;
  const monthly = (await t.export({ period: '2025-11' })).rows;
  assert.is(total(hourly.filter((r) => r.x_Meter === 'disk.gib-hours')), total(monthly.filter((r) => r.x_Meter === 'disk.gib-hours')));
  assert.ok(hourly.every((r) => Date.parse(r.ChargePeriodEnd) - Date.parse(r.ChargePeriodStart) === 3_600_000));
});

test.run();
