/**
 * RContract: a lease of exact slices. Its stream holds the lease lifecycle and the books (reserved vs. actual usage);
 * the slices themselves live on their own capacity boundaries (Host, Network + XNetwork, XImage) and are taken and
 * given back by the opening process (process/open-rcontract.ts), which reports here.
 *
 *   contract: opening ──all reserved──▶ active ──Terminate──▶ terminating ──all released──▶ terminated
 *                │                                                        
 *                └──an item failed / cancelled──▶ failed ──all given back──▶ (compensated)
 *   item:     pending ─▶ reserved ─▶ confirmed ─▶ released;   pending ─▶ failed
 */
import './events.ts'; // registers the event schemas (the store validates appends against them)
import './commands.ts';
import { DomainError, type Decider } from '../../../core/decider.ts';
import { deriveId, idBody } from '../common/ids.ts';
import { sizeOf } from '../common/quantities.ts';
import type { RContractCommand } from './commands.ts';
import { UNITS, type Amounts, type Item, type RContractEvent } from './events.ts';

export type ContractStatus = 'none' | 'opening' | 'active' | 'failed' | 'terminating' | 'terminated';
export type ItemStatus = 'pending' | 'reserved' | 'confirmed' | 'failed' | 'released';
export interface ContractItem {
  readonly item: Item;
  readonly sliceId: string;
  readonly status: ItemStatus;
  readonly reserved?: Amounts;
  /** End of the last usage window recorded (windows never overlap). */
  readonly usageUntil?: string;
  readonly usage: Amounts;
  readonly failure?: { code: string; message: string };
}
export interface RContractState {
  readonly status: ContractStatus;
  readonly contractId: string;
  readonly tenantId?: string;
  readonly compensated: boolean;
  readonly items: readonly ContractItem[];
}

const initial: RContractState = { status: 'none', contractId: '', compensated: false, items: [] };

export const sliceIdOf = (item: Item): string => (item.kind === 'compute' ? item.xnodeId : item.kind === 'network' ? item.xnetworkId : item.ximageId);
const held = (s: ItemStatus) => s === 'reserved' || s === 'confirmed';
export const holdsNothing = (state: RContractState): boolean => state.items.every((i) => i.status === 'failed' || i.status === 'released');

export const sumAmounts = (list: readonly (Amounts | undefined)[]): Amounts => {
  const out: Amounts = {};
  for (const a of list) for (const u of UNITS) if (a?.[u] !== undefined) out[u] = (out[u] ?? 0) + a[u]!;
  return out;
};
/** What an item asks for, in named units (a BNode's size is known only once sliced: the whole machine). */
export function requestedAmounts(item: Item): Amounts {
  switch (item.kind) {
    case 'compute': return item.size ? { ...sizeOf(item.size) } : {};
    case 'network': return { bandwidthMbps: item.bandwidthMbps, publicIps: item.publicIps };
    case 'image': return { checkpoints: item.quota.checkpoints, checkpointGiB: item.quota.sizeGiB };
  }
}

/** The slice id of item `index` of a contract when the request names none: `xn_<contract>_<index>` (or a hash when too long). */
function derivedSliceId(kind: 'xnode' | 'xnetwork' | 'ximage', contractId: string, index: number): string {
  const prefix = kind === 'xnode' ? 'xn_' : kind === 'xnetwork' ? 'xnet_' : 'xi_';
  const body = `${idBody(contractId)}_${index}`;
  return body.length <= 60 ? prefix + body : deriveId(kind, contractId, index);
}

function normalise(contractId: string, input: Extract<RContractCommand, { type: 'OpenRContract' }>['data']['items'][number], index: number): Item {
  switch (input.kind) {
    case 'compute': return { ...input, index, xnodeId: input.xnodeId ?? derivedSliceId('xnode', contractId, index) };
    case 'network': return { ...input, index, xnetworkId: input.xnetworkId ?? derivedSliceId('xnetwork', contractId, index), public: input.public ?? false, publicIps: input.publicIps ?? 0 };
    case 'image': return { ...input, index, ximageId: input.ximageId ?? derivedSliceId('ximage', contractId, index) };
  }
}

function setItem(state: RContractState, index: number, change: Partial<ContractItem>): RContractState {
  return { ...state, items: state.items.map((it, i) => (i === index ? { ...it, ...change } : it)) };
}

function evolve(state: RContractState, event: RContractEvent): RContractState {
  switch (event.type) {
    case 'RContractOpened': {
      const d = event.data;
      return {
        status: 'opening', contractId: d.contractId, ...(d.tenantId !== undefined && { tenantId: d.tenantId }), compensated: false,
        items: d.items.map((item) => ({ item, sliceId: sliceIdOf(item), status: 'pending', usage: {} })),
      };
    }
    case 'RContractItemReserved': return setItem(state, event.data.index, { status: state.status === 'active' ? 'confirmed' : 'reserved', reserved: event.data.reserved });
    case 'RContractItemFailed': return setItem(state, event.data.index, { status: 'failed', failure: { code: event.data.code, message: event.data.message } });
    case 'RContractConfirmed': return { ...state, status: 'active', items: state.items.map((it) => (it.status === 'reserved' ? { ...it, status: 'confirmed' } : it)) };
    case 'RContractFailed': return { ...state, status: 'failed' };
    case 'RContractCompensated': return { ...state, compensated: true };
    case 'RContractItemReleased': return setItem(state, event.data.index, { status: 'released' });
    case 'RContractItemMoved': {
      const it = state.items[event.data.index];
      if (!it || it.item.kind !== 'compute') return state;
      return setItem(state, event.data.index, { item: { ...it.item, xnodeId: event.data.to.xnodeId, hostId: event.data.to.hostId }, sliceId: event.data.to.xnodeId });
    }
    case 'RContractTerminationRequested': return { ...state, status: 'terminating' };
    case 'RContractTerminated': return { ...state, status: 'terminated' };
    case 'RContractUsageRecorded': {
      const it = state.items[event.data.index];
      if (!it) return state;
      return setItem(state, event.data.index, { usageUntil: event.data.to, usage: sumAmounts([it.usage, event.data.usage]) });
    }
    default: return state;
  }
}

function mustExist(state: RContractState, contractId: string): void {
  if (state.status === 'none') throw new DomainError('RCONTRACT_NOT_FOUND', `contract ${contractId} does not exist`, ['contractId']);
  if (state.contractId !== contractId) throw new DomainError('RCONTRACT_MISMATCH', `command for contract ${contractId} sent to the stream of ${state.contractId}`, ['contractId']);
}
function itemOf(state: RContractState, index: number, sliceId?: string): ContractItem {
  const it = state.items[index];
  if (!it) throw new DomainError('ITEM_NOT_FOUND', `contract ${state.contractId} has no item ${index} (it has ${state.items.length})`, ['index']);
  if (sliceId !== undefined && it.sliceId !== sliceId) throw new DomainError('ITEM_SLICE_MISMATCH', `item ${index} of ${state.contractId} is slice ${it.sliceId}, not ${sliceId}`, ['sliceId']);
  return it;
}

/** Events that end a phase once nothing is held any more. `after` is the state with the decision's events applied. */
function closing(after: RContractState): RContractEvent[] {
  if (!holdsNothing(after)) return [];
  if (after.status === 'terminating') return [{ type: 'RContractTerminated', data: { contractId: after.contractId } }];
  if (after.status === 'failed' && !after.compensated) return [{ type: 'RContractCompensated', data: { contractId: after.contractId } }];
  return [];
}
const applied = (state: RContractState, events: RContractEvent[]) => events.reduce(evolve, state);

function decide(command: RContractCommand, state: RContractState): RContractEvent[] {
  if (command.type === 'OpenRContract') {
    const d = command.data;
    if (state.status !== 'none') {
      if (state.contractId === d.contractId && state.items.length === d.items.length && state.tenantId === d.tenantId) return [];
      throw new DomainError('RCONTRACT_EXISTS', `contract ${d.contractId} already exists (${state.status})`, ['contractId']);
    }
    const items = d.items.map((input, i) => normalise(d.contractId, input, i));
    const seen = new Map<string, number>();
    for (const it of items) {
      const id = sliceIdOf(it);
      if (seen.has(id)) throw new DomainError('DUPLICATE_SLICE_ID', `items ${seen.get(id)} and ${it.index} both name slice ${id}`, ['items', String(it.index)]);
      seen.set(id, it.index);
      if (it.kind === 'compute' && it.checkpointId !== undefined && it.imageId === undefined) throw new DomainError('IMAGE_REQUIRED', `item ${it.index}: a checkpoint needs its imageId`, ['items', String(it.index), 'imageId']);
      if (it.kind === 'network' && !it.public && it.publicIps > 0) throw new DomainError('XNETWORK_NOT_PUBLIC', `item ${it.index}: public IPs need public: true`, ['items', String(it.index), 'publicIps']);
    }
    return [{
      type: 'RContractOpened',
      data: {
        contractId: d.contractId, ...(d.tenantId !== undefined && { tenantId: d.tenantId }), ...(d.holder && { holder: d.holder }),
        items, requested: items.map(requestedAmounts),
      },
    }];
  }

  mustExist(state, command.data.contractId);
  const contractId = state.contractId;
  switch (command.type) {
    case 'RecordRContractItemReserved': {
      const d = command.data;
      const it = itemOf(state, d.index, d.sliceId);
      if (held(it.status) || it.status === 'released') return [];
      const events: RContractEvent[] = [{ type: 'RContractItemReserved', data: { contractId, index: d.index, sliceId: it.sliceId, reserved: d.reserved } }];
      const after = applied(state, events);
      if (after.status === 'opening' && after.items.every((i) => held(i.status))) {
        events.push({ type: 'RContractConfirmed', data: { contractId, reserved: sumAmounts(after.items.map((i) => i.reserved)) } });
      }
      return events;
    }
    case 'RecordRContractItemFailed': {
      const d = command.data;
      const it = itemOf(state, d.index, d.sliceId);
      if (it.status !== 'pending') return []; // a reservation (or a release) already recorded is the truth
      const events: RContractEvent[] = [{ type: 'RContractItemFailed', data: { contractId, index: d.index, sliceId: it.sliceId, code: d.code, message: d.message } }];
      if (state.status === 'opening') {
        events.push({ type: 'RContractFailed', data: { contractId, code: d.code, message: `item ${d.index} (${it.sliceId}) failed: ${d.message}`, failedIndex: d.index } });
      }
      return [...events, ...closing(applied(state, events))];
    }
    case 'RecordRContractItemReleased': {
      const d = command.data;
      const it = itemOf(state, d.index, d.sliceId);
      if (it.status === 'released' || it.status === 'failed') return [];
      const events: RContractEvent[] = [{ type: 'RContractItemReleased', data: { contractId, index: d.index, sliceId: it.sliceId, ...(d.reason !== undefined && { reason: d.reason }) } }];
      return [...events, ...closing(applied(state, events))];
    }
    case 'MoveRContractItem': {
      const d = command.data;
      const it = itemOf(state, d.index);
      if (it.item.kind !== 'compute') throw new DomainError('ITEM_NOT_COMPUTE', `item ${d.index} of ${contractId} is ${it.item.kind}; only compute items move`, ['index']);
      if (it.sliceId === d.to.xnodeId) return [];
      if (state.status !== 'active' || it.status !== 'confirmed') throw new DomainError('ITEM_NOT_ACTIVE', `item ${d.index} of ${contractId} is ${it.status} in a ${state.status} contract; only confirmed items move`, ['index']);
      return [{ type: 'RContractItemMoved', data: { contractId, index: d.index, from: { xnodeId: it.item.xnodeId, hostId: it.item.hostId }, to: d.to } }];
    }
    case 'TerminateRContract': {
      const reason = command.data.reason;
      switch (state.status) {
        case 'opening': {
          const events: RContractEvent[] = [{ type: 'RContractFailed', data: { contractId, code: 'CANCELLED', message: reason ?? 'cancelled while opening' } }];
          return [...events, ...closing(applied(state, events))];
        }
        case 'active': {
          const events: RContractEvent[] = [{ type: 'RContractTerminationRequested', data: { contractId, ...(reason !== undefined && { reason }) } }];
          return [...events, ...closing(applied(state, events))];
        }
        default: return []; // failed (already giving back), terminating, terminated
      }
    }
    case 'RecordRContractUsage': {
      const d = command.data;
      const it = itemOf(state, d.index, d.sliceId);
      if (it.reserved === undefined) throw new DomainError('ITEM_NEVER_RESERVED', `item ${d.index} of ${contractId} never held anything; it has no usage`, ['index']);
      if (!(d.from < d.to)) throw new DomainError('USAGE_WINDOW_INVALID', `usage window [${d.from}, ${d.to}) is empty or reversed`, ['to']);
      if (it.usageUntil !== undefined && d.from < it.usageUntil) {
        if (d.to <= it.usageUntil) return []; // a window already recorded (a retried export)
        throw new DomainError('USAGE_OVERLAP', `usage of item ${d.index} is recorded until ${it.usageUntil}; a window starting ${d.from} would count time twice`, ['from']);
      }
      return [{ type: 'RContractUsageRecorded', data: { contractId, index: d.index, sliceId: it.sliceId, from: d.from, to: d.to, usage: d.usage } }];
    }
  }
}

export const rcontractDecider: Decider<RContractState, RContractCommand, RContractEvent> = { initialState: () => initial, evolve, decide };

/** Reserved vs. actual: what each item holds and what was measured (for the RRegister and metering). */
export function books(state: RContractState): { index: number; sliceId: string; status: ItemStatus; reserved: Amounts; usage: Amounts }[] {
  return state.items.map((it) => ({ index: it.item.index, sliceId: it.sliceId, status: it.status, reserved: it.reserved ?? {}, usage: it.usage }));
}
