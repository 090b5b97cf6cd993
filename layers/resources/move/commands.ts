import { z } from 'zod';
import { defineCommand } from '../../../schema/registry.ts';
import '../common/categories.ts';
import { HostId, MoveId, RContractId, stream, XNodeId } from '../common/ids.ts';
import { MoveMode, MovePhase, MoveSource } from './events.ts';

export const RequestMove = defineCommand({
  type: 'RequestMove', category: 'Move',
  description: 'Request a move (or copy) of an XNode to an exact target host (operator, or the Components layer). `source` is the slice as its Host stream holds it now; refused when it cannot move (state, same host, contract item missing).',
  schema: z.object({
    moveId: MoveId, mode: MoveMode, source: MoveSource,
    target: z.object({ hostId: HostId, xnodeId: XNodeId.optional() }).strict(),
    contract: z.object({ contractId: RContractId, index: z.number().int().min(0).max(31) }).strict().optional(),
    reason: z.string().max(1000).optional(),
  }).strict(),
});
export const RecordMoveProgress = defineCommand({
  type: 'RecordMoveProgress', category: 'Move', description: 'Record the phase the move process reached (sent by the move process runner).',
  schema: z.object({
    moveId: MoveId, phase: MovePhase, sourceWasRunning: z.boolean(), stoppedSource: z.boolean(),
    failure: z.object({ code: z.string().min(1).max(100), message: z.string().max(2000) }).strict().optional(),
    warning: z.string().max(2000).optional(),
  }).strict(),
});

type D<S extends z.ZodType> = z.infer<S>;
export type MoveCommand =
  | { type: 'RequestMove'; data: D<typeof RequestMove> }
  | { type: 'RecordMoveProgress'; data: D<typeof RecordMoveProgress> };

export const moveCommandSchemas = { RequestMove, RecordMoveProgress } as const;
export const moveStreamOf = (c: MoveCommand): string => stream.move(c.data.moveId);
