/**
 * The RContract opening (and closing) process: all or nothing across the slices' own streams.
 *
 *   RContractOpened ─▶ per item, on the item's own boundary:
 *       compute → SliceXNode on Host-<hostId>
 *       network → AllocateNetworkSlice on Network-<networkId> ─NetworkSliceAllocated─▶ CreateXNetwork on XNetwork-<id>
 *       image   → AllocateXImage on XImage-<id>
 *   slice taken (XNodeSliced | XNetworkCreated | XImageAllocated) ─▶ RecordRContractItemReserved
 *       (the RContract confirms itself when the last item is reserved);
 *       a slice taken for an item already failed or released (a refused command retried later, when it fitted)
 *       is given straight back
 *   slice command refused (CommandRejected) ─▶ RecordRContractItemFailed (the RContract fails on the first one)
 *   RContractFailed | RContractTerminationRequested ─▶ release every item held
 *   RContractItemReserved while failed/terminating ─▶ release that item (a reservation that arrived late)
 *   slice released (XNodeReleased | NetworkSliceReleased | XImageReleased) ─▶ RecordRContractItemReleased
 *       network: XNetworkDeleted ─▶ ReleaseNetworkSlice first
 *   (the RContract marks itself compensated / terminated when nothing is held any more)
 *   RContractCompensated | RContractTerminated ─▶ a final, idempotent sweep releasing every item's slices
 *
 * `reactRContract(event, state)` is pure; `state` is the RContract's state including the event when it is one of
 * the RContract's own. Events of the slice streams are routed here by their `contractId`.
 */
import { stream } from '../common/ids.ts';
import type { ContractItem, RContractState } from '../rcontract/decider.ts';
import type { Item } from '../rcontract/events.ts';
import { sender, type OutgoingCommand, type ProcessEvent } from './types.ts';

/** Event types this process reacts to (for the subscription filter). */
export const RCONTRACT_PROCESS_EVENTS = [
  'RContractOpened', 'RContractFailed', 'RContractTerminationRequested', 'RContractItemReserved', 'RContractCompensated', 'RContractTerminated',
  'XNodeSliced', 'XNodeReleased', 'NetworkSliceAllocated', 'NetworkSliceReleased', 'XNetworkCreated', 'XNetworkDeleted',
  'XImageAllocated', 'XImageReleased', 'CommandRejected',
] as const;

const RESERVING = new Set(['SliceXNode', 'AllocateNetworkSlice', 'CreateXNetwork', 'AllocateXImage']);

function findItem(state: RContractState, sliceId: string | undefined): ContractItem | undefined {
  return sliceId === undefined ? undefined : state.items.find((it) => it.sliceId === sliceId);
}

function reserveCommand(s: ReturnType<typeof sender>, contractId: string, item: Item): void {
  const step = `reserve:${item.index}`;
  switch (item.kind) {
    case 'compute':
      s.send(step, stream.host(item.hostId), 'SliceXNode', {
        hostId: item.hostId, xnodeId: item.xnodeId, contractId,
        ...(item.size && { size: item.size }), ...(item.imageId !== undefined && { imageId: item.imageId }), ...(item.ha && { ha: item.ha }),
        ...(item.checkpointId !== undefined && item.imageId !== undefined && { copyFrom: { kind: 'image', imageId: item.imageId, checkpointId: item.checkpointId } }),
      });
      return;
    case 'network':
      s.send(step, stream.network(item.networkId), 'AllocateNetworkSlice', {
        networkId: item.networkId, sliceId: item.xnetworkId, bandwidthMbps: item.bandwidthMbps, publicIps: item.publicIps, contractId,
      });
      return;
    case 'image':
      s.send(step, stream.ximage(item.ximageId), 'AllocateXImage', {
        ximageId: item.ximageId, regionId: item.regionId, quota: item.quota, contractId, ...(item.imageId !== undefined && { imageId: item.imageId }),
      });
  }
}

function releaseCommand(s: ReturnType<typeof sender>, item: Item, reason: string, step = `release:${item.index}`): void {
  switch (item.kind) {
    case 'compute': s.send(step, stream.host(item.hostId), 'ReleaseXNode', { hostId: item.hostId, xnodeId: item.xnodeId, reason }); return;
    case 'network': s.send(step, stream.xnetwork(item.xnetworkId), 'DeleteXNetwork', { xnetworkId: item.xnetworkId, reason }); return;
    case 'image': s.send(step, stream.ximage(item.ximageId), 'ReleaseXImage', { ximageId: item.ximageId, reason }); return;
  }
}

function sweep(s: ReturnType<typeof sender>, item: Item, reason: string): void {
  releaseCommand(s, item, reason, `sweep:${item.index}`);
  if (item.kind === 'network') s.send(`sweep-network:${item.index}`, stream.network(item.networkId), 'ReleaseNetworkSlice', { networkId: item.networkId, sliceId: item.xnetworkId, reason });
}

const held = (it: ContractItem) => it.status === 'reserved' || it.status === 'confirmed';

export function reactRContract(event: ProcessEvent, state: RContractState): OutgoingCommand[] {
  if (state.status === 'none') return [];
  const contractId = state.contractId;
  const s = sender(event, contractId);
  const rc = stream.rcontract(contractId);
  const d = event.data ?? {};
  const record = (step: string, type: string, data: Record<string, unknown>) => s.send(step, rc, type, { contractId, ...data });
  const ending = state.status === 'failed' || state.status === 'terminating' || state.status === 'terminated';

  switch (event.type) {
    case 'RContractOpened':
      for (const item of (d.items as Item[])) reserveCommand(s, contractId, item);
      break;

    case 'RContractFailed': case 'RContractTerminationRequested': {
      const reason = event.type === 'RContractFailed' ? `contract ${contractId} failed: ${d.message}` : `contract ${contractId} terminated${d.reason ? `: ${d.reason}` : ''}`;
      for (const it of state.items) if (held(it)) releaseCommand(s, it.item, reason);
      break;
    }
    case 'RContractCompensated': case 'RContractTerminated':
      // final sweep: release every slice any item may hold, idempotently (a release of nothing is refused, harmlessly).
      // Together with the give-back rules below, nothing taken for this contract outlives it whatever the order of events.
      for (const it of state.items) sweep(s, it.item, `contract ${contractId} ${event.type === 'RContractTerminated' ? 'terminated' : 'compensated'}`);
      break;
    case 'RContractItemReserved': {
      const it = state.items[d.index];
      if (ending && it && held(it)) releaseCommand(s, it.item, `contract ${contractId} is ${state.status}: giving back a late reservation`);
      break;
    }

    // A slice taken for an item: record it while the item waits for it; give it back when the item no longer wants
    // it (the item failed or was released meanwhile: e.g. a refused command retried later, when it fitted).
    case 'XNodeSliced': {
      const it = findItem(state, d.xnodeId);
      if (it?.item.kind !== 'compute') break;
      if (it.status === 'pending') record(`reserved:${it.item.index}`, 'RecordRContractItemReserved', { index: it.item.index, sliceId: it.sliceId, reserved: d.size });
      else if (!held(it)) s.send(`give-back:${it.item.index}`, stream.host(d.hostId), 'ReleaseXNode', { hostId: d.hostId, xnodeId: d.xnodeId, reason: `item ${it.item.index} of ${contractId} is ${it.status}` });
      break;
    }
    case 'NetworkSliceAllocated': {
      const it = findItem(state, d.sliceId);
      if (it?.item.kind !== 'network' || held(it)) break;
      const item = it.item;
      if (it.status === 'pending' && state.status === 'opening') {
        s.send(`create-xnetwork:${item.index}`, stream.xnetwork(item.xnetworkId), 'CreateXNetwork', {
          xnetworkId: item.xnetworkId, networkId: item.networkId, regionId: d.regionId, ...(d.zoneId !== undefined && { zoneId: d.zoneId }), contractId,
          cidr: item.cidr, public: item.public, bandwidthMbps: d.bandwidthMbps, publicIps: d.publicIps, segment: d.segment,
        });
      } else {
        // the contract is ending or the item is no longer wanted: give the network slice straight back
        s.send(`give-back:${item.index}`, stream.network(item.networkId), 'ReleaseNetworkSlice', { networkId: item.networkId, sliceId: item.xnetworkId, reason: `item ${item.index} of ${contractId}: contract ${state.status}, item ${it.status}` });
      }
      break;
    }
    case 'XNetworkCreated': {
      const it = findItem(state, d.xnetworkId);
      if (it?.item.kind !== 'network') break;
      if (it.status === 'pending') record(`reserved:${it.item.index}`, 'RecordRContractItemReserved', { index: it.item.index, sliceId: it.sliceId, reserved: { bandwidthMbps: d.bandwidthMbps, publicIps: d.publicIps.length } });
      else if (!held(it)) s.send(`give-back:${it.item.index}`, stream.xnetwork(d.xnetworkId), 'DeleteXNetwork', { xnetworkId: d.xnetworkId, reason: `item ${it.item.index} of ${contractId} is ${it.status}` });
      break;
    }
    case 'XImageAllocated': {
      const it = findItem(state, d.ximageId);
      if (it?.item.kind !== 'image') break;
      if (it.status === 'pending') record(`reserved:${it.item.index}`, 'RecordRContractItemReserved', { index: it.item.index, sliceId: it.sliceId, reserved: { checkpoints: d.quota.checkpoints, checkpointGiB: d.quota.sizeGiB } });
      else if (!held(it)) s.send(`give-back:${it.item.index}`, stream.ximage(d.ximageId), 'ReleaseXImage', { ximageId: d.ximageId, reason: `item ${it.item.index} of ${contractId} is ${it.status}` });
      break;
    }

    case 'XNodeReleased': {
      const it = findItem(state, d.xnodeId);
      if (it?.item.kind === 'compute' && it.status !== 'released' && it.status !== 'failed') {
        record(`released:${it.item.index}`, 'RecordRContractItemReleased', { index: it.item.index, sliceId: it.sliceId, ...(d.reason !== undefined && { reason: d.reason }) });
      }
      break;
    }
    case 'XNetworkDeleted': {
      const it = findItem(state, d.xnetworkId);
      if (it?.item.kind === 'network') {
        s.send(`release-network:${it.item.index}`, stream.network(it.item.networkId), 'ReleaseNetworkSlice', { networkId: it.item.networkId, sliceId: it.sliceId, ...(d.reason !== undefined && { reason: d.reason }) });
      }
      break;
    }
    case 'NetworkSliceReleased': {
      const it = findItem(state, d.sliceId);
      if (it?.item.kind === 'network' && it.status !== 'released' && it.status !== 'failed') {
        record(`released:${it.item.index}`, 'RecordRContractItemReleased', { index: it.item.index, sliceId: it.sliceId, ...(d.reason !== undefined && { reason: d.reason }) });
        // a virtual network may have been built on the slice meanwhile: it goes too (deleting none is refused, harmlessly)
        s.send(`give-back:${it.item.index}`, stream.xnetwork(it.sliceId), 'DeleteXNetwork', { xnetworkId: it.sliceId, reason: `network slice of item ${it.item.index} released` });
      }
      break;
    }
    case 'XImageReleased': {
      const it = findItem(state, d.ximageId);
      if (it?.item.kind === 'image' && it.status !== 'released' && it.status !== 'failed') {
        record(`released:${it.item.index}`, 'RecordRContractItemReleased', { index: it.item.index, sliceId: it.sliceId, ...(d.reason !== undefined && { reason: d.reason }) });
      }
      break;
    }

    case 'CommandRejected': {
      const c = d.command as { type: string; data: Record<string, any> };
      if (!RESERVING.has(c.type)) break; // refused records or releases: nothing to compensate
      const sliceId = c.data.xnodeId ?? c.data.sliceId ?? c.data.xnetworkId ?? c.data.ximageId;
      const it = c.type === 'CreateXNetwork' ? findItem(state, c.data.xnetworkId) : findItem(state, sliceId);
      if (!it || it.status !== 'pending') break;
      record(`failed:${it.item.index}`, 'RecordRContractItemFailed', { index: it.item.index, sliceId: it.sliceId, code: d.code, message: d.message });
      if (c.type === 'CreateXNetwork' && it.item.kind === 'network') {
        // the network slice under it was taken: give it back
        s.send(`release-network:${it.item.index}`, stream.network(it.item.networkId), 'ReleaseNetworkSlice', { networkId: it.item.networkId, sliceId: it.sliceId, reason: `virtual network refused: ${d.code}` });
      }
      break;
    }
  }
  return s.out;
}
