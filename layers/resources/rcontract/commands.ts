import { z } from 'zod';
import { defineCommand } from '../../../schema/registry.ts';
import '../common/categories.ts';
import { ForeignId, HostId, RContractId, stream, XNodeId } from '../common/ids.ts';
import { UtcTime } from '../common/time.ts';
import { Amounts, Holder, ItemInput } from './events.ts';

const itemRef = { contractId: RContractId, index: z.number().int().min(0).max(31), sliceId: z.string().min(1).max(80) };

export const OpenRContract = defineCommand({
  type: 'OpenRContract', category: 'RContract',
  description: 'Open a lease of exact items (compute on a host, network on a network, image quota in a region). The opening process reserves them all or gives everything back.',
  schema: z.object({ contractId: RContractId, tenantId: ForeignId.optional(), holder: Holder.optional(), items: z.array(ItemInput).min(1, 'at least one item').max(32) }).strict(),
});
export const RecordRContractItemReserved = defineCommand({
  type: 'RecordRContractItemReserved', category: 'RContract', description: 'Record that an item\'s slice was cut (sent by the opening process).',
  schema: z.object({ ...itemRef, reserved: Amounts }).strict(),
});
export const RecordRContractItemFailed = defineCommand({
  type: 'RecordRContractItemFailed', category: 'RContract', description: 'Record that an item\'s slice command was refused (sent by the opening process).',
  schema: z.object({ ...itemRef, code: z.string().min(1).max(100), message: z.string().max(2000) }).strict(),
});
export const RecordRContractItemReleased = defineCommand({
  type: 'RecordRContractItemReleased', category: 'RContract', description: 'Record that an item\'s slice was released (sent by the process that saw the release).',
  schema: z.object({ ...itemRef, reason: z.string().max(1000).optional() }).strict(),
});
export const MoveRContractItem = defineCommand({
  type: 'MoveRContractItem', category: 'RContract', description: 'Point a compute item at the slice it was moved to (sent by the move process).',
  schema: z.object({ contractId: RContractId, index: z.number().int().min(0).max(31), to: z.object({ xnodeId: XNodeId, hostId: HostId }).strict() }).strict(),
});
export const TerminateRContract = defineCommand({
  type: 'TerminateRContract', category: 'RContract', description: 'End the lease: every item is released. An opening lease is cancelled (failed, then compensated).',
  schema: z.object({ contractId: RContractId, reason: z.string().max(1000).optional() }).strict(),
});
export const RecordRContractUsage = defineCommand({
  type: 'RecordRContractUsage', category: 'RContract', description: 'Record actual usage of an item over [from, to); windows of one item never overlap.',
  schema: z.object({ ...itemRef, from: UtcTime, to: UtcTime, usage: Amounts }).strict(),
});

type D<S extends z.ZodType> = z.input<S>;
export type RContractCommand =
  | { type: 'OpenRContract'; data: D<typeof OpenRContract> }
  | { type: 'RecordRContractItemReserved'; data: D<typeof RecordRContractItemReserved> }
  | { type: 'RecordRContractItemFailed'; data: D<typeof RecordRContractItemFailed> }
  | { type: 'RecordRContractItemReleased'; data: D<typeof RecordRContractItemReleased> }
  | { type: 'MoveRContractItem'; data: D<typeof MoveRContractItem> }
  | { type: 'TerminateRContract'; data: D<typeof TerminateRContract> }
  | { type: 'RecordRContractUsage'; data: D<typeof RecordRContractUsage> };

export const rcontractCommandSchemas = {
  OpenRContract, RecordRContractItemReserved, RecordRContractItemFailed, RecordRContractItemReleased, MoveRContractItem, TerminateRContract, RecordRContractUsage,
} as const;
export const rcontractStreamOf = (c: RContractCommand): string => stream.rcontract(c.data.contractId);
