/**
 * The Resources layer's public surface for the wiring (GraphQL, CLI, scheduler, processes):
 *   - `resourceDeciders`: the decider of each stream category;
 *   - `resourceCommand(type, data)`: validates a command against its zod schema (SchemaError naming every wrong
 *     field) and says which stream and decider it goes to;
 *   - the process managers (RContract opening/closing, XNode move/copy) and the preconditions handlers check
 *     against a parent's state before registering a child (regionAcceptsChildren, zoneAcceptsChildren, imageUsable).
 */
import type { Decider } from '../../core/decider.ts';
import { validateCommand } from '../../schema/registry.ts';
import { stream } from './common/ids.ts';
import { hostCommandSchemas } from './host/commands.ts';
import { hostDecider } from './host/decider.ts';
import { imageCommandSchemas } from './image/commands.ts';
import { imageDecider } from './image/decider.ts';
import { namesCommandSchemas } from './names/commands.ts';
import { namesDecider } from './names/decider.ts';
import { networkCommandSchemas } from './network/commands.ts';
import { networkDecider } from './network/decider.ts';
import { rcontractCommandSchemas } from './rcontract/commands.ts';
import { rcontractDecider } from './rcontract/decider.ts';
import { regionCommandSchemas } from './region/commands.ts';
import { regionDecider } from './region/decider.ts';
import { ximageCommandSchemas } from './ximage/commands.ts';
import { ximageDecider } from './ximage/decider.ts';
import { xnetworkCommandSchemas } from './xnetwork/commands.ts';
import { xnetworkDecider } from './xnetwork/decider.ts';
import { zoneCommandSchemas } from './zone/commands.ts';
import { zoneDecider } from './zone/decider.ts';
import { moveCommandSchemas } from './move/commands.ts';
import { moveDecider } from './move/decider.ts';

export { regionDecider, regionAcceptsChildren } from './region/decider.ts';
export { zoneDecider, zoneAcceptsChildren } from './zone/decider.ts';
export { namesDecider, nameKey } from './names/decider.ts';
export { nameScope } from './names/commands.ts';
export { hostDecider, hostStatus, freeOf, ensureFits, epochKey } from './host/decider.ts';
export { consumption, CONSUMPTION, XNODE_STATES, isLive } from './host/consumption.ts';
export { networkDecider, freeIpCount, freeBandwidthMbps } from './network/decider.ts';
export { xnetworkDecider } from './xnetwork/decider.ts';
export { imageDecider, imageUsable, lineage } from './image/decider.ts';
export { ximageDecider } from './ximage/decider.ts';
export { rcontractDecider, books, requestedAmounts, sliceIdOf } from './rcontract/decider.ts';
export { reactRContract, RCONTRACT_PROCESS_EVENTS } from './process/open-rcontract.ts';
export { startMove, reactMove, foldMove, isFinished, MOVE_EVENTS } from './process/move-xnode.ts';
export { rejected, type OutgoingCommand, type ProcessEvent, type CommandRejected } from './process/types.ts';
export { stream, deriveId, deriveCommandId, ID_PREFIX } from './common/ids.ts';
export { moveDecider, type MoveAggregate } from './move/decider.ts';

export const resourceDeciders: Record<string, Decider<any, any, any>> = {
  Region: regionDecider, Zone: zoneDecider, Names: namesDecider, Host: hostDecider, Network: networkDecider,
  XNetwork: xnetworkDecider, Image: imageDecider, XImage: ximageDecider, RContract: rcontractDecider, Move: moveDecider,
};

type Route = { category: string; schema: import('zod').ZodType; streamOf: (data: any) => string };
const routes: Record<string, Route> = {};
const add = (category: string, schemas: Record<string, import('zod').ZodType>, streamOf: (data: any) => string) => {
  for (const [type, schema] of Object.entries(schemas)) routes[type] = { category, schema, streamOf };
};
add('Region', regionCommandSchemas, (d) => stream.region(d.regionId));
add('Zone', zoneCommandSchemas, (d) => stream.zone(d.zoneId));
add('Names', namesCommandSchemas, (d) => stream.names(d.scope));
add('Host', hostCommandSchemas, (d) => stream.host(d.hostId));
add('Network', networkCommandSchemas, (d) => stream.network(d.networkId));
add('XNetwork', xnetworkCommandSchemas, (d) => stream.xnetwork(d.xnetworkId));
add('Image', imageCommandSchemas, (d) => stream.image(d.imageId));
add('XImage', ximageCommandSchemas, (d) => stream.ximage(d.ximageId));
add('RContract', rcontractCommandSchemas, (d) => stream.rcontract(d.contractId));
add('Move', moveCommandSchemas, (d) => stream.move(d.moveId));

export const RESOURCE_COMMAND_TYPES = Object.keys(routes);

/** Validates a Resources command and routes it: `handler(decider).handle(stream, command, ctx)`. Throws SchemaError on bad input. */
export function resourceCommand(type: string, data: unknown): { stream: string; category: string; decider: Decider<any, any, any>; command: { type: string; data: any } } {
  const route = routes[type];
  if (!route) throw new Error(`unknown Resources command ${JSON.stringify(type)}`);
  const parsed = validateCommand(route.schema, type, data) as Record<string, unknown>;
  return { stream: route.streamOf(parsed), category: route.category, decider: resourceDeciders[route.category], command: { type, data: parsed } };
}
