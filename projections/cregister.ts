/**
 * The CRegister: the global register of the Components layer. Each CContract with its needs, lifecycle status, power,
 * estimate, last decision (with reasons), and each replica: its epoch, state and where it runs (host, zone, region,
 * area) — plus the component types. Built from the CContract and ComponentType streams by folding each stream with
 * its own decider (so the register can never disagree with the deciders), deterministic (times from the events), so
 * a rebuild from zero gives the same digest. Queries over it: cregister-read.ts.
 */
import type Database from 'better-sqlite3';
import type { StoredEvent } from '../core/event-store/port.ts';
import { categoryOf, idOf } from '../schema/envelope.ts';
import '../layers/components/ccontract/events.ts';
import '../layers/components/type/events.ts';
import { ccontractDecider, type CContractState } from '../layers/components/ccontract/decider.ts';
import type { CContractEvent } from '../layers/components/ccontract/events.ts';
import { componentTypeDecider, type ComponentTypeState } from '../layers/components/type/decider.ts';
import type { ComponentTypeEvent } from '../layers/components/type/events.ts';
import type { SqliteProjection } from './runner.ts';

export const CREGISTER_TABLES = { components: 'cregister_components', replicas: 'cregister_replicas', types: 'cregister_types' } as const;

type Stmts = ReturnType<typeof prepare>;
const statements = new WeakMap<Database.Database, Stmts>();

function prepare(db: Database.Database) {
  return {
    state: db.prepare('SELECT state_json FROM cregister_components WHERE component_id = ?').pluck(),
    upsert: db.prepare(`INSERT INTO cregister_components (component_id, seq, tenant_id, project_id, parent_id, type_name, type_id, distribution,
        status, power, size_name, cpu_cores, ram_mib, disk_gib, cpu_mhz, disk_iops, replicas, writers, access, region_id, zone_id, flat_pool,
        deferred_code, deferred_message, state_json, revision, created_at, updated_at)
      VALUES (@component_id, @seq, @tenant_id, @project_id, @parent_id, @type_name, @type_id, @distribution, @status, @power, @size_name,
        @cpu_cores, @ram_mib, @disk_gib, @cpu_mhz, @disk_iops, @replicas, @writers, @access, @region_id, @zone_id, @flat_pool, @deferred_code,
        @deferred_message, @state_json, @revision, @at, @at)
      ON CONFLICT(component_id) DO UPDATE SET status = excluded.status, power = excluded.power, size_name = excluded.size_name,
        cpu_cores = excluded.cpu_cores, ram_mib = excluded.ram_mib, disk_gib = excluded.disk_gib, cpu_mhz = excluded.cpu_mhz,
        disk_iops = excluded.disk_iops, deferred_code = excluded.deferred_code, deferred_message = excluded.deferred_message,
        state_json = excluded.state_json, revision = excluded.revision, updated_at = excluded.updated_at`),
    deleteReplicas: db.prepare('DELETE FROM cregister_replicas WHERE component_id = ?'),
    insertReplica: db.prepare(`INSERT INTO cregister_replicas (component_id, replica, epoch, state, host_id, zone_id, region_id, area, xnode_id, child_id, not_before, last_error)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    typeState: db.prepare('SELECT state_json FROM cregister_types WHERE type_id = ?').pluck(),
    upsertType: db.prepare(`INSERT INTO cregister_types (type_id, seq, name, version, status, distribution, pool_component_id, state_json, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(type_id) DO UPDATE SET name = excluded.name, version = excluded.version, status = excluded.status,
      distribution = excluded.distribution, pool_component_id = excluded.pool_component_id, state_json = excluded.state_json, updated_at = excluded.updated_at`),
  };
}

export const cregisterProjection: SqliteProjection = {
  name: 'cregister',
  version: 1,
  filter: { categories: ['CContract', 'ComponentType'] },
  tables: [
    { name: CREGISTER_TABLES.components, orderBy: 'component_id' },
    { name: CREGISTER_TABLES.replicas, orderBy: 'component_id, replica' },
    { name: CREGISTER_TABLES.types, orderBy: 'type_id' },
  ],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS cregister_components (
        component_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, tenant_id TEXT, project_id TEXT, parent_id TEXT, type_name TEXT NOT NULL,
        type_id TEXT NOT NULL, distribution TEXT NOT NULL, status TEXT NOT NULL, power TEXT NOT NULL, size_name TEXT, cpu_cores INTEGER NOT NULL,
        ram_mib INTEGER NOT NULL, disk_gib INTEGER NOT NULL, cpu_mhz INTEGER NOT NULL, disk_iops INTEGER NOT NULL, replicas INTEGER NOT NULL,
        writers INTEGER NOT NULL, access TEXT NOT NULL, region_id TEXT, zone_id TEXT, flat_pool TEXT, deferred_code TEXT, deferred_message TEXT,
        state_json TEXT NOT NULL, revision INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS cregister_components_by_project ON cregister_components (project_id, seq);
      CREATE INDEX IF NOT EXISTS cregister_components_by_seq ON cregister_components (seq);
      CREATE TABLE IF NOT EXISTS cregister_replicas (
        component_id TEXT NOT NULL, replica INTEGER NOT NULL, epoch INTEGER NOT NULL, state TEXT NOT NULL, host_id TEXT, zone_id TEXT,
        region_id TEXT, area TEXT, xnode_id TEXT, child_id TEXT, not_before TEXT, last_error TEXT, PRIMARY KEY (component_id, replica));
      CREATE INDEX IF NOT EXISTS cregister_replicas_by_host ON cregister_replicas (host_id);
      CREATE TABLE IF NOT EXISTS cregister_types (
        type_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL, status TEXT NOT NULL,
        distribution TEXT NOT NULL, pool_component_id TEXT, state_json TEXT NOT NULL, updated_at TEXT NOT NULL);
    `);
    statements.delete(db);
  },
  apply(db, e: StoredEvent) {
    let s = statements.get(db);
    if (!s) { s = prepare(db); statements.set(db, s); }
    const at = e.metadata.occurredAt;
    const category = categoryOf(e.streamId);
    const id = idOf(e.streamId);
    if (category === 'ComponentType') {
      const prev = s.typeState.get(id) as string | undefined;
      const state = componentTypeDecider.evolve(prev ? JSON.parse(prev) as ComponentTypeState : componentTypeDecider.initialState(), { type: e.type, data: e.data } as ComponentTypeEvent);
      if (!state.definition) return;
      s.upsertType.run(id, e.position, state.definition.name, state.version, state.status, state.definition.distribution, state.pool?.componentId ?? null, JSON.stringify(state), at);
      return;
    }
    if (category !== 'CContract') return;
    const prev = s.state.get(id) as string | undefined;
    const state: CContractState = ccontractDecider.evolve(prev ? JSON.parse(prev) : ccontractDecider.initialState(), { type: e.type, data: e.data } as CContractEvent);
    const n = state.needs;
    if (!n) return;
    s.upsert.run({
      component_id: id, seq: e.position, tenant_id: n.tenantId ?? null, project_id: n.projectId ?? null, parent_id: n.parent?.componentId ?? null,
      type_name: n.type.name, type_id: n.type.typeId, distribution: n.type.distribution, status: state.status, power: state.power,
      size_name: n.sizeName ?? null, cpu_cores: state.size.cpuCores, ram_mib: state.size.ramMiB, disk_gib: state.size.diskGiB,
      cpu_mhz: state.size.cpuMHz, disk_iops: state.size.diskIops, replicas: n.replicas, writers: n.writers, access: n.access,
      region_id: n.regionId ?? null, zone_id: n.zoneId ?? null, flat_pool: n.flatPool ?? null, deferred_code: state.deferred?.code ?? null,
      deferred_message: state.deferred?.message ?? null, state_json: JSON.stringify(state), revision: e.revision, at,
    });
    s.deleteReplicas.run(id);
    for (const slot of state.slots) {
      const p = slot.placement;
      s.insertReplica.run(id, slot.replica, slot.epoch, slot.state, p?.hostId || null, p?.zoneId || null, p?.regionId || null, p?.area || null,
        p?.xnodeId || null, slot.child ?? null, slot.notBefore ?? null, slot.lastError ? `${slot.lastError.code}: ${slot.lastError.message}` : null);
    }
  },
};
