/**
 * XImage: a quota of checkpoints in a region's image store: at most `quota.checkpoints` checkpoints of at most
 * `quota.sizeGiB` in total. Checkpoints may build on one another (incremental); one that others build on cannot be
 * deleted. The image store itself is treated as elastic (its physical capacity is not modelled yet).
 */
import './events.ts'; // registers the event schemas (the store validates appends against them)
import './commands.ts';
import { DomainError, type Decider } from '../../../core/decider.ts';
import type { XImageCommand } from './commands.ts';
import type { XImageEvent, XImageQuota } from './events.ts';

export interface XImageState {
  readonly status: 'none' | 'active' | 'released';
  readonly ximageId: string;
  readonly regionId: string;
  readonly imageId?: string;
  readonly contractId?: string;
  readonly quota: XImageQuota;
  readonly usage: XImageQuota;
  readonly checkpoints: Readonly<Record<string, { sizeGiB: number; parent?: string; xnodeId?: string }>>;
}

const initial: XImageState = { status: 'none', ximageId: '', regionId: '', quota: { checkpoints: 0, sizeGiB: 0 }, usage: { checkpoints: 0, sizeGiB: 0 }, checkpoints: {} };

function evolve(state: XImageState, event: XImageEvent): XImageState {
  switch (event.type) {
    case 'XImageAllocated': {
      const d = event.data;
      return { ...initial, status: 'active', ximageId: d.ximageId, regionId: d.regionId, ...(d.imageId !== undefined && { imageId: d.imageId }), ...(d.contractId !== undefined && { contractId: d.contractId }), quota: d.quota };
    }
    case 'XImageCheckpointTaken': {
      const d = event.data;
      const cp = { sizeGiB: d.sizeGiB, ...(d.parentCheckpointId !== undefined && { parent: d.parentCheckpointId }), ...(d.xnodeId !== undefined && { xnodeId: d.xnodeId }) };
      return { ...state, usage: d.usage, checkpoints: { ...state.checkpoints, [d.checkpointId]: cp } };
    }
    case 'XImageCheckpointDeleted': {
      const { [event.data.checkpointId]: _gone, ...rest } = state.checkpoints;
      return { ...state, usage: event.data.usage, checkpoints: rest };
    }
    case 'XImageQuotaChanged': return { ...state, quota: event.data.quota };
    case 'XImageReleased': return { ...state, status: 'released', usage: { checkpoints: 0, sizeGiB: 0 }, checkpoints: {} };
    default: return state;
  }
}

function active(state: XImageState, ximageId: string): void {
  if (state.status === 'none') throw new DomainError('XIMAGE_NOT_FOUND', `checkpoint quota ${ximageId} does not exist`, ['ximageId']);
  if (state.ximageId !== ximageId) throw new DomainError('XIMAGE_MISMATCH', `command for ${ximageId} sent to the stream of ${state.ximageId}`, ['ximageId']);
  if (state.status === 'released') throw new DomainError('XIMAGE_RELEASED', `checkpoint quota ${ximageId} is released`, ['ximageId']);
}

function decide(command: XImageCommand, state: XImageState): XImageEvent[] {
  const ref = () => ({ ximageId: state.ximageId, regionId: state.regionId, ...(state.contractId !== undefined && { contractId: state.contractId }) });
  switch (command.type) {
    case 'AllocateXImage': {
      const d = command.data;
      if (state.status !== 'none') {
        if (state.status === 'active' && state.ximageId === d.ximageId && state.quota.checkpoints === d.quota.checkpoints && state.quota.sizeGiB === d.quota.sizeGiB && state.contractId === d.contractId) return [];
        throw new DomainError('XIMAGE_EXISTS', `checkpoint quota ${d.ximageId} already exists (${state.status})`, ['ximageId']);
      }
      return [{ type: 'XImageAllocated', data: { ximageId: d.ximageId, regionId: d.regionId, ...(d.contractId !== undefined && { contractId: d.contractId }), ...(d.imageId !== undefined && { imageId: d.imageId }), quota: d.quota } }];
    }
    case 'TakeXImageCheckpoint': {
      const d = command.data;
      active(state, d.ximageId);
      const existing = state.checkpoints[d.checkpointId];
      if (existing) {
        if (existing.sizeGiB === d.sizeGiB && existing.parent === d.parentCheckpointId) return [];
        throw new DomainError('CHECKPOINT_EXISTS', `${d.ximageId} already holds checkpoint ${d.checkpointId}`, ['checkpointId']);
      }
      if (d.parentCheckpointId !== undefined && !state.checkpoints[d.parentCheckpointId]) throw new DomainError('PARENT_NOT_FOUND', `${d.ximageId} holds no checkpoint ${d.parentCheckpointId}`, ['parentCheckpointId']);
      if (state.usage.checkpoints + 1 > state.quota.checkpoints) {
        throw new DomainError('XIMAGE_QUOTA_EXCEEDED', `${d.ximageId} cannot store checkpoint ${d.checkpointId}: checkpoints requested 1, free ${state.quota.checkpoints - state.usage.checkpoints} of quota ${state.quota.checkpoints}`, ['checkpointId']);
      }
      if (state.usage.sizeGiB + d.sizeGiB > state.quota.sizeGiB) {
        throw new DomainError('XIMAGE_QUOTA_EXCEEDED', `${d.ximageId} cannot store checkpoint ${d.checkpointId}: sizeGiB requested ${d.sizeGiB}, free ${state.quota.sizeGiB - state.usage.sizeGiB} of quota ${state.quota.sizeGiB}`, ['sizeGiB']);
      }
      return [{
        type: 'XImageCheckpointTaken',
        data: {
          ...ref(), checkpointId: d.checkpointId, ...(d.parentCheckpointId !== undefined && { parentCheckpointId: d.parentCheckpointId }), sizeGiB: d.sizeGiB,
          ...(d.xnodeId !== undefined && { xnodeId: d.xnodeId }), usage: { checkpoints: state.usage.checkpoints + 1, sizeGiB: state.usage.sizeGiB + d.sizeGiB },
        },
      }];
    }
    case 'DeleteXImageCheckpoint': {
      const d = command.data;
      active(state, d.ximageId);
      const cp = state.checkpoints[d.checkpointId];
      if (!cp) return [];
      const children = Object.entries(state.checkpoints).filter(([, c]) => c.parent === d.checkpointId).map(([id]) => id);
      if (children.length) throw new DomainError('CHECKPOINT_HAS_CHILDREN', `checkpoint ${d.checkpointId} is the base of ${children.join(', ')}; delete them first`, ['checkpointId']);
      return [{ type: 'XImageCheckpointDeleted', data: { ...ref(), checkpointId: d.checkpointId, sizeGiB: cp.sizeGiB, usage: { checkpoints: state.usage.checkpoints - 1, sizeGiB: state.usage.sizeGiB - cp.sizeGiB } } }];
    }
    case 'ChangeXImageQuota': {
      const d = command.data;
      active(state, d.ximageId);
      if (d.quota.checkpoints === state.quota.checkpoints && d.quota.sizeGiB === state.quota.sizeGiB) return [];
      if (d.quota.checkpoints < state.usage.checkpoints) throw new DomainError('QUOTA_BELOW_USAGE', `${d.ximageId} stores ${state.usage.checkpoints} checkpoints, more than ${d.quota.checkpoints}`, ['quota', 'checkpoints']);
      if (d.quota.sizeGiB < state.usage.sizeGiB) throw new DomainError('QUOTA_BELOW_USAGE', `${d.ximageId} stores ${state.usage.sizeGiB} GiB, more than ${d.quota.sizeGiB}`, ['quota', 'sizeGiB']);
      return [{ type: 'XImageQuotaChanged', data: { ...ref(), quota: d.quota, previousQuota: state.quota } }];
    }
    case 'ReleaseXImage': {
      if (state.status === 'released' && state.ximageId === command.data.ximageId) return [];
      active(state, command.data.ximageId);
      return [{ type: 'XImageReleased', data: { ...ref(), droppedCheckpointIds: Object.keys(state.checkpoints), ...(command.data.reason !== undefined && { reason: command.data.reason }) } }];
    }
  }
}

export const ximageDecider: Decider<XImageState, XImageCommand, XImageEvent> = { initialState: () => initial, evolve, decide };
