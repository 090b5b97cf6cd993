/**
 * What a scheduler knows, built from the event log itself (catch-up subscriptions on the store), never from a read
 * model: the Fleet (Host events) and the ContractView (CContract and ComponentType events). Both are complete and in
 * log order; the bus only tells a scheduler *which* contract or host event to act on.
 */
import type { EventStore, StoredEvent, Subscription } from '../../../core/event-store/port.ts';
import { categoryOf, idOf } from '../../../schema/envelope.ts';
import { ccontractDecider, type CContractState } from '../ccontract/decider.ts';
import type { CContractEvent } from '../ccontract/events.ts';
import { componentTypeDecider, type ComponentTypeState } from '../type/decider.ts';
import type { ComponentTypeEvent } from '../type/events.ts';
import { Fleet } from './fleet.ts';

export interface ContractEntry { state: CContractState; revision: number; position: number; changedAt: number }

export class ContractView {
  readonly contracts = new Map<string, ContractEntry>();
  readonly types = new Map<string, ComponentTypeState>();
  /** parent id → child ids */
  readonly children = new Map<string, Set<string>>();
  position = 0;
  private readonly listeners = new Set<(componentId: string, event: StoredEvent) => void>();

  constructor(private readonly now: () => number = Date.now) {}

  onChange(l: (componentId: string, event: StoredEvent) => void): () => void { this.listeners.add(l); return () => this.listeners.delete(l); }

  get(componentId: string): CContractState | undefined { return this.contracts.get(componentId)?.state; }

  apply(e: StoredEvent): void {
    if (e.position > this.position) this.position = e.position;
    const category = categoryOf(e.streamId);
    if (category === 'ComponentType') {
      const id = idOf(e.streamId);
      this.types.set(id, componentTypeDecider.evolve(this.types.get(id) ?? componentTypeDecider.initialState(), { type: e.type, data: e.data } as ComponentTypeEvent));
      return;
    }
    if (category !== 'CContract') return;
    const id = idOf(e.streamId);
    const entry = this.contracts.get(id);
    if (entry && e.revision <= entry.revision) return;
    const state = ccontractDecider.evolve(entry?.state ?? ccontractDecider.initialState(), { type: e.type, data: e.data } as CContractEvent);
    this.contracts.set(id, { state, revision: e.revision, position: e.position, changedAt: this.now() });
    const parent = state.needs?.parent?.componentId;
    if (parent) {
      const set = this.children.get(parent) ?? new Set<string>();
      set.add(id);
      this.children.set(parent, set);
    }
    for (const l of this.listeners) l(id, e);
  }
}

export interface Views {
  fleet: Fleet;
  contracts: ContractView;
  /** Resolves once both views have applied the log up to `position` (or after `timeoutMs`, whichever first). */
  waitFor(position: number, timeoutMs?: number): Promise<void>;
  caughtUp: Promise<void>;
  close(): Promise<void>;
}

export function startViews(store: EventStore, options: { now?: () => number; onError?: (e: unknown) => void } = {}): Views {
  const fleet = new Fleet();
  const contracts = new ContractView(options.now);
  let ready = 0;
  let markReady!: () => void;
  const caughtUp = new Promise<void>((r) => { markReady = r; });
  const subs: Subscription[] = [
    store.subscribe({
      filter: { categories: ['Host'] }, batchSize: 2000,
      onBatch: (events) => { for (const e of events) fleet.apply(e); },
      onCaughtUp: () => { if (++ready === 2) markReady(); },
      onError: options.onError,
    }),
    store.subscribe({
      filter: { categories: ['CContract', 'ComponentType'] }, batchSize: 2000,
      onBatch: (events) => { for (const e of events) contracts.apply(e); },
      onCaughtUp: () => { if (++ready === 2) markReady(); },
      onError: options.onError,
    }),
  ];
  return {
    fleet, contracts, caughtUp,
    async waitFor(position, timeoutMs = 5000) {
      await Promise.all(subs.map((s) => s.waitFor(position, timeoutMs).catch(() => undefined)));
    },
    async close() { await Promise.all(subs.map((s) => s.close())); },
  };
}
