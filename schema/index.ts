/**
 * Importing this module registers every category, event and command of every layer (see load-all.ts).
 * Roles that handle events of all layers (relay, audit, replay, docs) import it once at start.
 */
import { loadAllSchemas } from './load-all.ts';

export const schemaFiles = await loadAllSchemas();
export * from './registry.ts';
