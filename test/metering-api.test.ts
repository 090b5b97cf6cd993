/**
 * The tenant view and the billing endpoint against a real server (test/harness/api.ts): Project.usage and
 * Component.usage give the same numbers as the export; another tenant sees nothing; GET /billing/exports/:period
 * needs an operator token and answers the export's exact bytes with their sha256.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { startApi, type ApiHarness } from './harness/api.ts';
import { resourceCommand } from '../layers/resources/index.ts';
import { projectDecider } from '../layers/projects/project/decider.ts';
import { BillingService } from '../layers/metering/service.ts';
import { exportPeriod } from '../projections/metering/export.ts';
import { parseCsv } from '../projections/metering/csv.ts';
import { addDecimals } from '../projections/metering/fixed.ts';
import { uuidv7 } from '../core/ids.ts';
import '../layers/components/ccontract/events.ts';

const op = { kind: 'operator', id: 'test_operator' } as const;
let h: ApiHarness;
let ann: string;
let annToken: string;
let bobToken: string;
let project: string;

const res = async (type: string, data: Record<string, unknown>, at: string) => {
  const { stream, decider, command } = resourceCommand(type, data);
  await h.ledger.execute(decider, stream, command, { actor: op, occurredAt: at });
};

test.before(async () => {
  h = await startApi();
  ann = await h.createUser('Ann');
  const bob = await h.createUser('Bob');
  annToken = await h.tenantToken(ann);
  bobToken = await h.tenantToken(bob);
  project = await h.createProject(annToken, 'Shop');
  await new BillingService(h.ledger.store).publish(op, { book: {
    effectiveFrom: '2025-01-01T00:00:00Z', currency: 'EUR',
    meters: { 'cpu.core-hours': { price: '0.04' }, 'ram.gib-hours': { price: '0.005' }, 'disk.gib-hours': { price: '0.0002' } },
    templateWeights: { normal: '1', standard: '1.5', enhanced: '2' },
  } });
  await res('RegisterHost', { hostId: 'h_1', zoneId: 'z_a', regionId: 'r_eu', name: 'h1', type: 'VM', area: 'a1', resources: { cpuCores: 64, cpuMHz: 0, ramMiB: 262144, diskGiB: 4000, diskIops: 0 } }, '2024-12-01T00:00:00Z');
  await h.ledger.store.append('CContract-c_web', [{ type: 'ComponentRequested', data: {
    componentId: 'c_web', tenantId: ann, projectId: project,
    type: { typeId: 'ct_cloud_host', name: 'cloud-host', version: 1, distribution: 'Cell', singleRunning: true, pool: { kind: 'resources' }, hostTypes: ['VM'] },
    sizeName: 'standard', size: { cpuCores: 2, cpuMHz: 0, ramMiB: 2048, diskGiB: 10, diskIops: 0 },
    access: 'Zone', zoneId: 'z_a', replicas: 1, writers: 1, estimated: { cpuCores: 2, cpuMHz: 0, ramMiB: 2048, diskGiB: 10, diskIops: 0 },
  }, metadata: { eventId: uuidv7(), occurredAt: '2025-01-05T00:00:00Z', actor: { kind: 'tenant', id: ann }, correlationId: 'c', version: 1 } }]);
  await h.ledger.execute(projectDecider, `Project-${project}`, { type: 'LinkComponent', data: { projectId: project, componentId: 'c_web' } } as any, { actor: { kind: 'system', id: 'components' }, occurredAt: '2025-01-05T00:00:00Z' });
  const x = { hostId: 'h_1', xnodeId: 'xn_w0' };
  await res('SliceXNode', { ...x, size: { cpuCores: 2, ramMiB: 2048, diskGiB: 10 }, ha: { componentId: 'c_web', replica: 0, epoch: 1 } }, '2025-01-05T00:00:00Z');
  await res('ReportXNodeObserved', { ...x, observed: 'running', generation: 1, observedAt: '2025-01-05T00:00:00Z' }, '2025-01-05T00:00:00Z');
  await res('ReleaseXNode', x, '2025-01-06T06:00:00Z');
  // a slice of nobody's project
  await res('SliceXNode', { hostId: 'h_1', xnodeId: 'xn_other', size: { cpuCores: 1, ramMiB: 1024, diskGiB: 10 } }, '2025-01-05T00:00:00Z');
  await h.ledger.settle();
});
test.after(async () => { await h.close(); });

const USAGE = 'query($id: ID!, $p: String!) { project(id: $id) { usage(period: $p) { meter unit quantity pricingQuantity cost currency } } }';

test('Project.usage and Component.usage: the export\'s numbers, per meter', async () => {
  const r = await h.gql(USAGE, { id: project, p: '2025-01' }, annToken);
  assert.equal(r.body.errors, undefined, r.text);
  // 30 h running at 2 cores / 2 GiB / 10 GiB, template standard (× 1.5): 60 core-h × 0.06, 60 GiB-h × 0.0075, 300 GiB-h × 0.0003
  assert.equal(r.body.data.project.usage, [
    { meter: 'cpu.core-hours', unit: 'Core-Hours', quantity: '60', pricingQuantity: '60', cost: '3.6', currency: 'EUR' },
    { meter: 'ram.gib-hours', unit: 'GiB-Hours', quantity: '60', pricingQuantity: '60', cost: '0.45', currency: 'EUR' },
    { meter: 'disk.gib-hours', unit: 'GiB-Hours', quantity: '300', pricingQuantity: '300', cost: '0.09', currency: 'EUR' },
  ]);
  // the same as the export rolled up per project
  const chunks: string[] = [];
  await exportPeriod(h.ledger.store, { period: '2025-01', format: 'focus-csv', by: 'project' }, { write: (c) => { chunks.push(c.toString("utf8")); } });
  const rows = parseCsv(chunks.join('')).filter((x) => x.SubAccountId === project);
  for (const u of r.body.data.project.usage) {
    const mine = rows.filter((x) => x.x_Meter === u.meter);
    assert.is(addDecimals(mine.map((x) => x.ConsumedQuantity)), u.quantity);
    assert.is(addDecimals(mine.map((x) => x.BilledCost)), u.cost);
  }
  const c = await h.gql('{ component(id: "c_web") { id usage(period: "2025-01") { meter quantity cost } } }', undefined, annToken);
  assert.equal(c.body.errors, undefined, c.text);
  assert.equal(c.body.data.component.usage.map((u: any) => [u.meter, u.quantity, u.cost]), [['cpu.core-hours', '60', '3.6'], ['ram.gib-hours', '60', '0.45'], ['disk.gib-hours', '300', '0.09']]);
  const empty = await h.gql(USAGE, { id: project, p: '2024-12' }, annToken);
  assert.equal(empty.body.data.project.usage, []);
});

test('another tenant sees nothing; a bad period is refused', async () => {
  const r = await h.gql(USAGE, { id: project, p: '2025-01' }, bobToken);
  assert.is(r.body.data.project, null);
  const c = await h.gql('{ component(id: "c_web") { usage(period: "2025-01") { meter } } }', undefined, bobToken);
  assert.is(c.body.data.component, null);
  const bad = await h.gql(USAGE, { id: project, p: 'January' }, annToken);
  assert.is(bad.body.errors[0].extensions.code, 'BAD_USER_INPUT');
});

test('GET /billing/exports/:period: operator only; the exact export bytes with their sha256', async () => {
  const url = `${h.base}/billing/exports/2025-01`;
  assert.is((await fetch(url)).status, 401);
  assert.is((await fetch(url, { headers: { authorization: `Bearer ${annToken}` } })).status, 403);
  assert.is((await fetch(`${h.base}/billing/exports/2025-1`, { headers: { authorization: `Bearer ${h.operatorToken}` } })).status, 400);
  assert.is((await fetch(`${url}?format=xml`, { headers: { authorization: `Bearer ${h.operatorToken}` } })).status, 400);
  const r = await fetch(url, { headers: { authorization: `Bearer ${h.operatorToken}` } });
  assert.is(r.status, 200);
  const body = await r.text();
  assert.is(r.headers.get('x-ledger-sha256'), createHash('sha256').update(body).digest('hex'));
  assert.is(r.headers.get('content-type'), 'text/csv; charset=utf-8');
  assert.is(r.headers.get('x-ledger-period-status'), 'open');
  const chunks: string[] = [];
  const s = await exportPeriod(h.ledger.store, { period: '2025-01', format: 'focus-csv' }, { write: (c) => { chunks.push(c.toString("utf8")); } });
  assert.is(body, chunks.join(''));
  assert.is(r.headers.get('x-ledger-sha256'), s.sha256);
  const ids = new Set(parseCsv(body).map((x) => x.ResourceId));
  assert.equal([...ids].sort(), ['xn_other', 'xn_w0']);
  const j = await fetch(`${url}?format=jsonl&by=project`, { headers: { authorization: `Bearer ${h.operatorToken}` } });
  assert.is(j.status, 200);
  const lines = (await j.text()).trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.some((l) => l.ResourceId === project && l.ResourceType === 'Project'));
  const periods = await fetch(`${h.base}/billing/periods`, { headers: { authorization: `Bearer ${h.operatorToken}` } });
  assert.is(periods.status, 200);
  assert.is((await periods.json()).books[0].version, 1);
});

test.run();
