/** Queries over the CRegister (cregister.ts). Pages are keyed by `seq` (the position of the component's request). */
import type Database from 'better-sqlite3';
import type { CContractState } from '../layers/components/ccontract/decider.ts';
import type { ComponentTypeState } from '../layers/components/type/decider.ts';

export interface ReplicaRow {
  componentId: string; replica: number; epoch: number; state: string; hostId: string | null; zoneId: string | null; regionId: string | null;
  area: string | null; xnodeId: string | null; childId: string | null; notBefore: string | null; lastError: string | null;
}
export interface ComponentRow {
  componentId: string; seq: number; tenantId: string | null; projectId: string | null; parentId: string | null; typeName: string; typeId: string;
  distribution: string; status: string; power: string; sizeName: string | null;
  size: { cpuCores: number; ramMiB: number; diskGiB: number; cpuMHz: number; diskIops: number };
  replicas: number; writers: number; access: string; regionId: string | null; zoneId: string | null; flatPool: string | null;
  deferred: { code: string; message: string } | null; state: CContractState; revision: number; createdAt: string; updatedAt: string;
}
export interface Page<T> { rows: T[]; hasNextPage: boolean }

export const toComponent = (r: any): ComponentRow => ({
  componentId: r.component_id, seq: r.seq, tenantId: r.tenant_id, projectId: r.project_id, parentId: r.parent_id, typeName: r.type_name,
  typeId: r.type_id, distribution: r.distribution, status: r.status, power: r.power, sizeName: r.size_name,
  size: { cpuCores: r.cpu_cores, ramMiB: r.ram_mib, diskGiB: r.disk_gib, cpuMHz: r.cpu_mhz, diskIops: r.disk_iops },
  replicas: r.replicas, writers: r.writers, access: r.access, regionId: r.region_id, zoneId: r.zone_id, flatPool: r.flat_pool,
  deferred: r.deferred_code ? { code: r.deferred_code, message: r.deferred_message } : null, state: JSON.parse(r.state_json),
  revision: r.revision, createdAt: r.created_at, updatedAt: r.updated_at,
});
export const toReplica = (r: any): ReplicaRow => ({
  componentId: r.component_id, replica: r.replica, epoch: r.epoch, state: r.state, hostId: r.host_id, zoneId: r.zone_id, regionId: r.region_id,
  area: r.area, xnodeId: r.xnode_id, childId: r.child_id, notBefore: r.not_before, lastError: r.last_error,
});

export class CRegisterReadModel {
  private readonly s;
  constructor(db: Database.Database) {
    this.s = {
      component: db.prepare('SELECT * FROM cregister_components WHERE component_id = ?'),
      ofProject: db.prepare('SELECT * FROM cregister_components WHERE project_id = ? AND seq > ? ORDER BY seq LIMIT ?'),
      ofProjectLive: db.prepare(`SELECT * FROM cregister_components WHERE project_id = ? AND seq > ? AND status != 'released' ORDER BY seq LIMIT ?`),
      countOfProject: db.prepare('SELECT count(*) FROM cregister_components WHERE project_id = ?').pluck(),
      countOfProjectLive: db.prepare(`SELECT count(*) FROM cregister_components WHERE project_id = ? AND status != 'released'`).pluck(),
      all: db.prepare('SELECT * FROM cregister_components WHERE seq > ? ORDER BY seq LIMIT ?'),
      count: db.prepare('SELECT count(*) FROM cregister_components').pluck(),
      replicas: db.prepare('SELECT * FROM cregister_replicas WHERE component_id = ? ORDER BY replica'),
      onHost: db.prepare('SELECT * FROM cregister_replicas WHERE host_id = ? ORDER BY component_id, replica'),
      types: db.prepare('SELECT state_json FROM cregister_types ORDER BY name').pluck(),
      type: db.prepare('SELECT state_json FROM cregister_types WHERE name = ?').pluck(),
    };
  }
  component(componentId: string): ComponentRow | null { const r = this.s.component.get(componentId); return r ? toComponent(r) : null; }
  componentsOf(projectId: string, after: number, first: number, includeReleased: boolean): Page<ComponentRow> {
    const rows = ((includeReleased ? this.s.ofProject : this.s.ofProjectLive).all(projectId, after, first + 1) as any[]).map(toComponent);
    return { rows: rows.slice(0, first), hasNextPage: rows.length > first };
  }
  countOf(projectId: string, includeReleased: boolean): number { return (includeReleased ? this.s.countOfProject : this.s.countOfProjectLive).get(projectId) as number; }
  components(after: number, first: number): Page<ComponentRow> {
    const rows = (this.s.all.all(after, first + 1) as any[]).map(toComponent);
    return { rows: rows.slice(0, first), hasNextPage: rows.length > first };
  }
  count(): number { return this.s.count.get() as number; }
  replicas(componentId: string): ReplicaRow[] { return (this.s.replicas.all(componentId) as any[]).map(toReplica); }
  replicasOnHost(hostId: string): ReplicaRow[] { return (this.s.onHost.all(hostId) as any[]).map(toReplica); }
  types(): ComponentTypeState[] { return (this.s.types.all() as string[]).map((j) => JSON.parse(j)); }
  type(name: string): ComponentTypeState | null { const j = this.s.type.get(name) as string | undefined; return j ? JSON.parse(j) : null; }
}
