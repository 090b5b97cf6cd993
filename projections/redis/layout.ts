/**
 * How a SQLite read model is laid out in Redis (distributed profile). Every row of every table of a projection is a
 * JSON document (the row as better-sqlite3 returns it: column → value) in one hash per table, keyed by its primary
 * key; sorted sets order the rows by `seq` (for cursor pages) and index them by the columns readers filter on.
 *
 *   <root>:<projection>:meta                        hash  gen (the generation readers use), fence, nextGen
 *   <root>:<projection>:g<gen>:cp                   hash  position, version (the checkpoint of that generation)
 *   <root>:<projection>:g<gen>:t:<table>            hash  primary key → JSON row
 *   <root>:<projection>:g<gen>:s:<table>            zset  primary key scored by seq (0 for tables without one)
 *   <root>:<projection>:g<gen>:i:<table>:<col>:<v>  zset  primary keys whose <col> is <v>, scored by seq (or the
 *                                                         declared score column)
 *
 * A rebuild writes a new generation and then flips `gen` in one step, so readers see the old model or the new one,
 * never half of one. A primary key member is the value itself for one-column keys, else the JSON array of the values.
 * Keys are built from the projection's own tables; all keys of a projection share the `<root>:<projection>` prefix, so
 * a single Redis (not a cluster) is assumed.
 */
export const DEFAULT_ROOT = 'ledger:rm';
/** Channel on which the projector announces committed batches and generation swaps (JSON: name, gen, position). */
export const CHANGES_CHANNEL = (root = DEFAULT_ROOT) => `${root}:changes`;

export interface IndexSpec { column: string; /** score column (default `seq`; tables without it score 0) */ score?: string }

/** The columns each register's readers look rows up by (see the Redis readers in readers.ts). */
export const REDIS_INDEXES: Record<string, Record<string, IndexSpec[]>> = {
  projects: {
    projects_members: [{ column: 'user_id' }],
    projects_components: [{ column: 'project_id' }],
  },
  rregister: {
    rr_zones: [{ column: 'region_id' }],
    rr_hosts: [{ column: 'zone_id' }, { column: 'region_id' }, { column: 'area' }],
    rr_xnodes: [{ column: 'host_id' }, { column: 'contract_id' }],
    rr_networks: [{ column: 'region_id' }],
    rr_xnetworks: [{ column: 'network_id' }],
    rr_images: [{ column: 'region_id' }],
    rr_rcontracts: [{ column: 'tenant_id' }],
    rr_rcontract_items: [{ column: 'contract_id', score: 'idx' }],
  },
  cregister: {
    cregister_components: [{ column: 'project_id' }],
    cregister_replicas: [{ column: 'component_id', score: 'replica' }, { column: 'host_id' }],
    cregister_types: [{ column: 'name' }],
  },
};

export class RedisLayout {
  constructor(readonly name: string, readonly root = DEFAULT_ROOT) {}
  get meta() { return `${this.root}:${this.name}:meta`; }
  genPrefix(gen: number) { return `${this.root}:${this.name}:g${gen}`; }
  cp(gen: number) { return `${this.genPrefix(gen)}:cp`; }
  rows(gen: number, table: string) { return `${this.genPrefix(gen)}:t:${table}`; }
  seq(gen: number, table: string) { return `${this.genPrefix(gen)}:s:${table}`; }
  index(gen: number, table: string, column: string, value: unknown) { return `${this.genPrefix(gen)}:i:${table}:${column}:${String(value)}`; }
}

/** The member (hash field / zset member) of a row's primary key. */
export const memberOf = (values: unknown[]): string => (values.length === 1 ? String(values[0]) : JSON.stringify(values));
