/**
 * The Components layer's public surface:
 *   - deciders by category (registered in the decider registry for `ledger state`, audit and `asOf` queries);
 *   - `ComponentsService` (types, requests, power, resize, release: what the GraphQL module calls);
 *   - `startScheduler(ledger, options)` (the scheduler, in-process or as `ledger scheduler`);
 *   - `seedComponentTypes(ledger)` (the built-in types, for `ledger seed`).
 */
import { registerDecider } from '../../core/decider-registry.ts';
import type { Decider } from '../../core/decider.ts';
import { ccontractDecider } from './ccontract/decider.ts';
import { componentTypeDecider } from './type/decider.ts';

export const componentDeciders: Record<string, Decider<any, any, any>> = { ComponentType: componentTypeDecider, CContract: ccontractDecider };
for (const [category, decider] of Object.entries(componentDeciders)) registerDecider(category, decider);

export { ccontractDecider, derivedStatus, wantedState, type CContractState, type Slot } from './ccontract/decider.ts';
export { componentTypeDecider, type ComponentTypeState } from './type/decider.ts';
export { ComponentsService, AccessDeniedError, InvalidInputError } from './service.ts';
export { startScheduler, type Scheduler, type SchedulerOptions, type SchedulerStats } from './scheduler/scheduler.ts';
export { seedComponentTypes, type SeedResult } from './seed.ts';
export { BUILTIN_TYPES } from './builtins.ts';
export { Fleet } from './scheduler/fleet.ts';
export { Planner } from './scheduler/placement.ts';
export * from './ids.ts';
