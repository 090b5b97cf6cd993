/**
 * The tenant view: `usage(period)` of a project or a component — the export's regular rows of that period for the
 * slices the project (component) is billed for, summed per meter. The same engine and the same cut as the export:
 * a closed period as of its close, an open one as of the read model's position, so the numbers are the export's.
 */
import type Database from 'better-sqlite3';
import type { EventStore } from '../../core/event-store/port.ts';
import { BILLING_STREAM } from '../../layers/metering/ids.ts';
import { METERS } from '../../layers/metering/meters.ts';
import { periodEnd } from '../../layers/metering/period.ts';
import { MeteringContext, cutsOf } from './context.ts';
import { meter } from './engine.ts';
import { addInt, formatMicro, formatScaled, type Int } from './fixed.ts';
import { StreamListSource } from './source.ts';

export interface UsageLine {
  meter: string;
  unit: string;
  /** Consumed quantity in unit-hours (exact decimal text). */
  quantity: string;
  /** Quantity after state weights (what is priced). */
  pricingQuantity: string;
  /** null when some of it was not priced (no price book in effect). */
  cost: string | null;
  currency: string | null;
}

type Scope = { kind: 'project'; projectId: string } | { kind: 'component'; componentId: string };

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(',');

/** Components of the scope (with every descendant), from the metering index. */
function componentsOf(db: Database.Database, scope: Scope): string[] {
  const set = new Set<string>();
  if (scope.kind === 'project') {
    for (const r of db.prepare('SELECT component_id FROM mt_links WHERE project_id = ?').pluck().all(scope.projectId) as string[]) set.add(r);
    for (const r of db.prepare('SELECT component_id FROM mt_components WHERE project_id = ?').pluck().all(scope.projectId) as string[]) set.add(r);
  } else set.add(scope.componentId);
  const children = db.prepare('SELECT component_id FROM mt_components WHERE parent_id = ?').pluck();
  const queue = [...set];
  while (queue.length) {
    for (const c of children.all(queue.pop()!) as string[]) if (!set.has(c)) { set.add(c); queue.push(c); }
  }
  return [...set].sort();
}

export async function usageOf(store: EventStore, db: Database.Database, indexPosition: number, scope: Scope, period: string, options: { asOf?: number } = {}): Promise<UsageLine[]> {
  const components = componentsOf(db, scope);
  if (!components.length) return [];
  const ctx = new MeteringContext();
  // the billing book
  for (let from = 0; ;) {
    const batch = await store.readStream(BILLING_STREAM, { fromRevision: from, maxCount: 1000 });
    for (const e of batch) if (e.position <= indexPosition) ctx.add(e.type, e.data, e.position);
    if (batch.length < 1000) break;
    from = batch[batch.length - 1].revision + 1;
  }
  // who is who, for these components
  const inList = placeholders(components.length);
  const comps = db.prepare(`SELECT component_id, parent_id, project_id, tenant_id, type_name, pos FROM mt_components WHERE component_id IN (${inList})`).all(...components) as any[];
  for (const c of comps) ctx.add('ComponentRequested', { componentId: c.component_id, parent: c.parent_id ? { componentId: c.parent_id } : undefined, projectId: c.project_id ?? undefined, tenantId: c.tenant_id ?? undefined, type: { name: c.type_name } }, c.pos);
  for (const s of db.prepare(`SELECT component_id, pos, size_name FROM mt_component_sizes WHERE component_id IN (${inList}) ORDER BY pos`).all(...components) as any[]) {
    ctx.add('ComponentResizeRequested', { componentId: s.component_id, sizeName: s.size_name ?? undefined }, s.pos);
  }
  for (const l of db.prepare(`SELECT component_id, pos, project_id FROM mt_links WHERE component_id IN (${inList}) ORDER BY pos`).all(...components) as any[]) {
    ctx.add('ProjectComponentLinked', { componentId: l.component_id, projectId: l.project_id }, l.pos);
  }
  const contracts = db.prepare(`SELECT contract_id, holder_component, tenant_id, pos FROM mt_contracts WHERE holder_component IN (${inList})`).all(...components) as any[];
  for (const k of contracts) ctx.add('RContractOpened', { contractId: k.contract_id, holder: { kind: 'ccontract', id: k.holder_component }, tenantId: k.tenant_id ?? undefined }, k.pos);
  const contractIds = contracts.map((k) => k.contract_id as string);
  const resources = db.prepare(`SELECT resource_id, stream FROM mt_resources WHERE component_id IN (${inList})${contractIds.length ? ` OR contract_id IN (${placeholders(contractIds.length)})` : ''}`)
    .all(...components, ...contractIds) as { resource_id: string; stream: string }[];
  if (!resources.length) return [];

  const { cut, closed } = cutsOf(ctx, period, indexPosition);
  const until = closed ? periodEnd(period) : Math.min(periodEnd(period), options.asOf ?? periodEnd(period));
  const componentSet = new Set(components);
  const sums = new Map<number, { consumed: Int; pricing: Int; cost: Map<number, Int>; priced: boolean; currency: string | null }>();
  await meter(new StreamListSource(store, resources.map((r) => r.stream)), ctx, {
    period, cut, until, granularity: 'period', resources: new Set(resources.map((r) => r.resource_id)),
  }, (r) => {
    if (scope.kind === 'project' && r.attribution.projectId !== scope.projectId) return;
    if (scope.kind === 'component') {
      const direct = ctx.directComponent(r.info);
      if (!direct || !componentSet.has(direct)) return;
    }
    for (const row of r.rows) {
      let s = sums.get(row.meter.index);
      if (!s) { s = { consumed: 0, pricing: 0, cost: new Map(), priced: true, currency: null }; sums.set(row.meter.index, s); }
      s.consumed = addInt(s.consumed, row.consumedMicro);
      s.pricing = addInt(s.pricing, row.pricingMicro);
      if (!row.book) s.priced = false;
      else {
        s.currency = row.book.currency;
        s.cost.set(row.costScale, addInt(s.cost.get(row.costScale) ?? 0, row.cost));
      }
    }
  });
  return [...sums.entries()].sort((a, b) => a[0] - b[0]).map(([m, s]) => {
    let cost: string | null = null;
    if (s.priced) {
      const scale = Math.max(0, ...s.cost.keys());
      let total = 0n;
      for (const [sc, v] of s.cost) total += BigInt(v) * 10n ** BigInt(scale - sc);
      cost = formatScaled(total, scale);
    }
    return { meter: METERS[m].id, unit: METERS[m].unit, quantity: formatMicro(s.consumed), pricingQuantity: formatMicro(s.pricing), cost, currency: s.currency };
  });
}
