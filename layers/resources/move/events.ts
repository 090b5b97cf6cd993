import { z } from 'zod';
import { defineEvent } from '../../../schema/registry.ts';
import '../common/categories.ts';
import { HostId, ImageId, MoveId, RContractId, XNodeId } from '../common/ids.ts';
import { SizeSchema } from '../common/quantities.ts';
import { Fencing, XNodeKind, XNodeStateSchema } from '../host/events.ts';

export const MoveMode = z.enum(['move', 'copy']);
export const MovePhase = z.enum(['reserving', 'stopping-source', 'copying', 'starting-target', 'switching', 'releasing-source', 'done', 'rolling-back', 'rolled-back', 'failed']);
const Failure = z.object({ code: z.string().min(1).max(100), message: z.string().max(2000) }).strict();

/** The source as the Host stream held it when the move was requested (the process needs its size, kind and state). */
export const MoveSource = z.object({
  hostId: HostId, xnodeId: XNodeId, kind: XNodeKind, state: XNodeStateSchema, size: SizeSchema,
  imageId: ImageId.optional(), ha: Fencing.optional(), contractId: RContractId.optional(),
}).strict();

export const MoveRequested = defineEvent({
  type: 'MoveRequested', version: 1, category: 'Move',
  description: 'A move (or copy) of an XNode to another host was requested; the move process reserves the target first, then stops, copies, boots, rebinds the contract item and releases the source (rolling back on failure).',
  schema: z.object({
    moveId: MoveId, mode: MoveMode, source: MoveSource,
    target: z.object({ hostId: HostId, xnodeId: XNodeId }).strict(),
    contract: z.object({ contractId: RContractId, index: z.number().int().min(0).max(31) }).strict().optional(),
    reason: z.string().max(1000).optional(),
  }).strict(),
});
export const MoveProgressed = defineEvent({
  type: 'MoveProgressed', version: 1, category: 'Move',
  description: 'The move process reached a new phase (done, rolled-back and failed are final).',
  schema: z.object({
    moveId: MoveId, phase: MovePhase, from: MovePhase, sourceWasRunning: z.boolean(), stoppedSource: z.boolean(),
    failure: Failure.optional(), warning: z.string().max(2000).optional(),
  }).strict(),
});

type D<S extends z.ZodType> = z.infer<S>;
export type MoveEvent =
  | { type: 'MoveRequested'; data: D<typeof MoveRequested> }
  | { type: 'MoveProgressed'; data: D<typeof MoveProgressed> };
