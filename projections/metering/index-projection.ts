/**
 * The `metering` read model: an index for the tenant view, not the numbers themselves. It says which stream holds
 * each metered slice and whom it serves (component, contract), who holds each contract, each component's parent,
 * project and size template, and the project links — each with the log position it became known at. The tenant
 * view uses it to read only the streams of one project's or one component's slices, then runs the same engine
 * as the export over them.
 */
import type Database from 'better-sqlite3';
import type { StoredEvent } from '../../core/event-store/port.ts';
import type { SqliteProjection } from '../runner.ts';
import '../../layers/resources/index.ts';
import '../../layers/projects/project/events.ts';
import '../../layers/components/ccontract/events.ts';
import '../../layers/metering/events.ts';

export const METERING_INDEX_EVENTS = [
  'XNodeSliced', 'XNetworkCreated', 'XImageAllocated', 'RContractOpened', 'ComponentRequested', 'ComponentResizeRequested', 'ProjectComponentLinked',
] as const;

const statements = new WeakMap<Database.Database, ReturnType<typeof prepare>>();
function prepare(db: Database.Database) {
  return {
    resource: db.prepare('INSERT INTO mt_resources (resource_id, stream, kind, component_id, contract_id, pos) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(resource_id) DO NOTHING'),
    contract: db.prepare('INSERT INTO mt_contracts (contract_id, holder_component, tenant_id, pos) VALUES (?, ?, ?, ?) ON CONFLICT(contract_id) DO NOTHING'),
    component: db.prepare(`INSERT INTO mt_components (component_id, parent_id, project_id, tenant_id, type_name, pos) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT(component_id) DO NOTHING`),
    size: db.prepare('INSERT INTO mt_component_sizes (component_id, pos, size_name) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
    link: db.prepare('INSERT INTO mt_links (component_id, pos, project_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
  };
}

export const meteringIndexProjection: SqliteProjection = {
  name: 'metering',
  version: 1,
  filter: { eventTypes: [...METERING_INDEX_EVENTS] },
  tables: [
    { name: 'mt_resources', orderBy: 'resource_id' },
    { name: 'mt_contracts', orderBy: 'contract_id' },
    { name: 'mt_components', orderBy: 'component_id' },
    { name: 'mt_component_sizes', orderBy: 'component_id, pos' },
    { name: 'mt_links', orderBy: 'component_id, pos' },
  ],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS mt_resources (resource_id TEXT PRIMARY KEY, stream TEXT NOT NULL, kind TEXT NOT NULL, component_id TEXT, contract_id TEXT, pos INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS mt_resources_by_component ON mt_resources (component_id) WHERE component_id IS NOT NULL;
      CREATE INDEX IF NOT EXISTS mt_resources_by_contract ON mt_resources (contract_id) WHERE contract_id IS NOT NULL;
      CREATE TABLE IF NOT EXISTS mt_contracts (contract_id TEXT PRIMARY KEY, holder_component TEXT, tenant_id TEXT, pos INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS mt_contracts_by_holder ON mt_contracts (holder_component) WHERE holder_component IS NOT NULL;
      CREATE TABLE IF NOT EXISTS mt_components (component_id TEXT PRIMARY KEY, parent_id TEXT, project_id TEXT, tenant_id TEXT, type_name TEXT, pos INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS mt_components_by_parent ON mt_components (parent_id) WHERE parent_id IS NOT NULL;
      CREATE INDEX IF NOT EXISTS mt_components_by_project ON mt_components (project_id) WHERE project_id IS NOT NULL;
      CREATE TABLE IF NOT EXISTS mt_component_sizes (component_id TEXT NOT NULL, pos INTEGER NOT NULL, size_name TEXT, PRIMARY KEY (component_id, pos));
      CREATE TABLE IF NOT EXISTS mt_links (component_id TEXT NOT NULL, pos INTEGER NOT NULL, project_id TEXT NOT NULL, PRIMARY KEY (component_id, pos));
      CREATE INDEX IF NOT EXISTS mt_links_by_project ON mt_links (project_id);
    `);
    statements.delete(db);
  },
  apply(db, e: StoredEvent) {
    let s = statements.get(db);
    if (!s) { s = prepare(db); statements.set(db, s); }
    const d = e.data as any;
    switch (e.type) {
      case 'XNodeSliced': s.resource.run(d.xnodeId, e.streamId, d.kind, d.ha?.componentId ?? null, d.contractId ?? null, e.position); break;
      case 'XNetworkCreated': s.resource.run(d.xnetworkId, e.streamId, 'XNetwork', null, d.contractId ?? null, e.position); break;
      case 'XImageAllocated': s.resource.run(d.ximageId, e.streamId, 'XImage', null, d.contractId ?? null, e.position); break;
      case 'RContractOpened': s.contract.run(d.contractId, d.holder?.kind === 'ccontract' ? d.holder.id : null, d.tenantId ?? null, e.position); break;
      case 'ComponentRequested':
        s.component.run(d.componentId, d.parent?.componentId ?? null, d.projectId ?? null, d.tenantId ?? null, d.type?.name ?? null, e.position);
        s.size.run(d.componentId, e.position, d.sizeName ?? null);
        break;
      case 'ComponentResizeRequested': s.size.run(d.componentId, e.position, d.sizeName ?? null); break;
      case 'ProjectComponentLinked': s.link.run(d.componentId, e.position, d.projectId); break;
      default: break;
    }
  },
};
