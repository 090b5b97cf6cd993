/**
 * Image: an OS image (for slices) or a host image (installed on bare machines by PXE), with its history as
 * checkpoints on branches. The registered content is checkpoint `base` on branch `main`; each new checkpoint goes on
 * top of a branch head (linear per branch); branches start from any checkpoint. Checkpoints are immutable.
 */
import './events.ts'; // registers the event schemas (the store validates appends against them)
import './commands.ts';
import { DomainError, type Decider } from '../../../core/decider.ts';
import type { ImageCommand } from './commands.ts';
import type { ImageEvent } from './events.ts';

export const ROOT_CHECKPOINT = 'base';
export const MAIN_BRANCH = 'main';

export interface ImageCheckpoint { readonly checkpointId: string; readonly parent?: string; readonly branch: string; readonly sizeGiB: number; readonly digest: string }
export interface ImageState {
  readonly status: 'none' | 'active' | 'deprecated' | 'retired';
  readonly imageId: string;
  readonly regionId: string;
  readonly name: string;
  readonly kind: 'os' | 'host';
  readonly format: string;
  readonly checkpoints: Readonly<Record<string, ImageCheckpoint>>;
  /** branch → head checkpoint */
  readonly branches: Readonly<Record<string, string>>;
}

const initial: ImageState = { status: 'none', imageId: '', regionId: '', name: '', kind: 'os', format: '', checkpoints: {}, branches: {} };

function evolve(state: ImageState, event: ImageEvent): ImageState {
  switch (event.type) {
    case 'ImageRegistered': {
      const d = event.data;
      return {
        status: 'active', imageId: d.imageId, regionId: d.regionId, name: d.name, kind: d.kind, format: d.format,
        checkpoints: { [d.checkpointId]: { checkpointId: d.checkpointId, branch: d.branch, sizeGiB: d.sizeGiB, digest: d.digest } },
        branches: { [d.branch]: d.checkpointId },
      };
    }
    case 'ImageCheckpointCreated': {
      const d = event.data;
      return {
        ...state,
        checkpoints: { ...state.checkpoints, [d.checkpointId]: { checkpointId: d.checkpointId, parent: d.parentCheckpointId, branch: d.branch, sizeGiB: d.sizeGiB, digest: d.digest } },
        branches: { ...state.branches, [d.branch]: d.checkpointId },
      };
    }
    case 'ImageBranchCreated': return { ...state, branches: { ...state.branches, [event.data.branch]: event.data.fromCheckpointId } };
    case 'ImageDeprecated': return { ...state, status: 'deprecated' };
    case 'ImageRetired': return { ...state, status: 'retired' };
    default: return state;
  }
}

function mustExist(state: ImageState, imageId: string): void {
  if (state.status === 'none') throw new DomainError('IMAGE_NOT_FOUND', `image ${imageId} does not exist`, ['imageId']);
  if (state.imageId !== imageId) throw new DomainError('IMAGE_MISMATCH', `command for image ${imageId} sent to the stream of ${state.imageId}`, ['imageId']);
}
function notRetired(state: ImageState): void {
  if (state.status === 'retired') throw new DomainError('IMAGE_RETIRED', `image ${state.imageId} is retired`, ['imageId']);
}

function decide(command: ImageCommand, state: ImageState): ImageEvent[] {
  switch (command.type) {
    case 'RegisterImage': {
      const d = command.data;
      if (state.status !== 'none') {
        if (state.imageId === d.imageId && state.name === d.name && state.checkpoints[ROOT_CHECKPOINT]?.digest === d.digest) return [];
        throw new DomainError('IMAGE_EXISTS', `image ${d.imageId} already exists (named "${state.name}")`, ['imageId']);
      }
      if (d.kind === 'host' && d.format !== 'pxe' && d.format !== 'raw') throw new DomainError('IMAGE_FORMAT', `a host image is installed by PXE: format pxe or raw, not ${d.format}`, ['format']);
      if (d.kind === 'os' && d.format === 'pxe') throw new DomainError('IMAGE_FORMAT', 'an OS image for slices is qcow2, raw, oci or iso, not pxe', ['format']);
      if (d.format === 'pxe' && !d.boot) throw new DomainError('PXE_BOOT_REQUIRED', 'a PXE image needs boot {kernel, initrd, cmdline}', ['boot']);
      if (d.kind === 'os' && d.boot) throw new DomainError('IMAGE_FORMAT', 'boot settings belong to host (PXE) images', ['boot']);
      return [{
        type: 'ImageRegistered',
        data: {
          imageId: d.imageId, regionId: d.regionId, name: d.name, kind: d.kind, format: d.format, arch: d.arch ?? 'x86_64',
          ...(d.os && { os: d.os }), ...(d.boot && { boot: { kernel: d.boot.kernel, initrd: d.boot.initrd, cmdline: d.boot.cmdline ?? '' } }),
          branch: MAIN_BRANCH, checkpointId: ROOT_CHECKPOINT, sizeGiB: d.sizeGiB, digest: d.digest,
        },
      }];
    }
    case 'CreateImageCheckpoint': {
      const d = command.data;
      mustExist(state, d.imageId);
      const branch = d.branch ?? MAIN_BRANCH;
      const existing = state.checkpoints[d.checkpointId];
      if (existing) {
        if (existing.digest === d.digest && existing.branch === branch) return [];
        throw new DomainError('CHECKPOINT_EXISTS', `image ${d.imageId} already has checkpoint ${d.checkpointId}`, ['checkpointId']);
      }
      notRetired(state);
      const head = state.branches[branch];
      if (head === undefined) throw new DomainError('BRANCH_NOT_FOUND', `image ${d.imageId} has no branch ${branch} (branches: ${Object.keys(state.branches).join(', ')})`, ['branch']);
      if (d.parentCheckpointId !== undefined && d.parentCheckpointId !== head) {
        throw new DomainError('BRANCH_HEAD_MOVED', `branch ${branch} of ${d.imageId} is at ${head}, not ${d.parentCheckpointId}; start a branch to diverge`, ['parentCheckpointId']);
      }
      return [{
        type: 'ImageCheckpointCreated',
        data: { imageId: d.imageId, regionId: state.regionId, checkpointId: d.checkpointId, branch, parentCheckpointId: head, sizeGiB: d.sizeGiB, digest: d.digest, ...(d.description !== undefined && { description: d.description }) },
      }];
    }
    case 'CreateImageBranch': {
      const d = command.data;
      mustExist(state, d.imageId);
      const head = state.branches[d.branch];
      if (head !== undefined) {
        if (head === d.fromCheckpointId) return [];
        throw new DomainError('BRANCH_EXISTS', `image ${d.imageId} already has a branch ${d.branch}`, ['branch']);
      }
      notRetired(state);
      if (!state.checkpoints[d.fromCheckpointId]) throw new DomainError('CHECKPOINT_NOT_FOUND', `image ${d.imageId} has no checkpoint ${d.fromCheckpointId}`, ['fromCheckpointId']);
      return [{ type: 'ImageBranchCreated', data: { imageId: d.imageId, regionId: state.regionId, branch: d.branch, fromCheckpointId: d.fromCheckpointId } }];
    }
    case 'DeprecateImage': {
      mustExist(state, command.data.imageId);
      if (state.status !== 'active') return [];
      return [{ type: 'ImageDeprecated', data: { imageId: state.imageId, regionId: state.regionId, ...(command.data.reason !== undefined && { reason: command.data.reason }) } }];
    }
    case 'RetireImage': {
      mustExist(state, command.data.imageId);
      if (state.status === 'retired') return [];
      return [{ type: 'ImageRetired', data: { imageId: state.imageId, regionId: state.regionId, ...(command.data.reason !== undefined && { reason: command.data.reason }) } }];
    }
  }
}

export const imageDecider: Decider<ImageState, ImageCommand, ImageEvent> = { initialState: () => initial, evolve, decide };

/**
 * Precondition the wiring checks before slicing from or copying an image: it exists, is not retired, and the
 * checkpoint (default: head of main) exists. Returns the checkpoint to use.
 */
export function imageUsable(state: ImageState, imageId: string, checkpointId?: string): ImageCheckpoint {
  mustExist(state, imageId);
  notRetired(state);
  const id = checkpointId ?? state.branches[MAIN_BRANCH];
  const cp = state.checkpoints[id];
  if (!cp) throw new DomainError('CHECKPOINT_NOT_FOUND', `image ${imageId} has no checkpoint ${id}`, ['checkpointId']);
  return cp;
}

/** The checkpoints from the root to `checkpointId` (its lineage). */
export function lineage(state: ImageState, checkpointId: string): string[] {
  const out: string[] = [];
  for (let id: string | undefined = checkpointId; id !== undefined; id = state.checkpoints[id]?.parent) out.unshift(id);
  return out;
}
