/**
 * The built-in component types `ledger seed` defines (see seed.ts). Each is a DefineComponentType command.
 *
 * | type         | distribution | access (default)        | HA w/r            | pool                   |
 * |--------------|--------------|-------------------------|-------------------|------------------------|
 * | cloud-host   | Cell         | Zone, Region, Full (Zone) | 1/1, single running | Resources (one VNode) |
 * | cloud-disk   | Cell         | Zone, Region (Zone)     | 1/2 (≤ 3)         | Resources (VM or CM)   |
 * | cache        | Cell         | Region, Zone, Full (Region) | 1/2 (≤ 5)     | cloud-host CContracts  |
 * | rdbms        | Cell         | Region, Zone, Full (Region) | 1/3 (≤ 5)     | Resources (VNodes)     |
 * | object-store | Flat         | Region, Full, Zone (Region) | 1/2 (type-level) | Resources, taken in bulk (12 cores, 24 GiB, 800 GiB per copy) |
 */
import type { TypeDefinition } from './type/events.ts';
import { typeIdOf } from './ids.ts';

const def = (d: Omit<TypeDefinition, 'typeId'>): TypeDefinition => ({ typeId: typeIdOf(d.name), ...d });

export const BUILTIN_TYPES: readonly TypeDefinition[] = [
  def({
    name: 'cloud-host', description: 'A virtual machine: one VNode, at most one running instance at any time, restarted elsewhere (fenced) when its host dies.',
    distribution: 'Cell', access: ['Zone', 'Region', 'Full'], defaultAccess: 'Zone', ha: { writers: 1, replicas: 1 }, maxReplicas: 1, singleRunning: true,
    hostTypes: ['VM'], pool: { kind: 'resources' },
    sizes: { normal: { cpuCores: 2, ramMiB: 4096, diskGiB: 40 }, standard: { cpuCores: 4, ramMiB: 8192, diskGiB: 80 }, enhanced: { cpuCores: 8, ramMiB: 16384, diskGiB: 160 } },
  }),
  def({
    name: 'cloud-disk', description: 'A replicated block volume: r copies on hosts of distinct areas (Zone) or zones (Region), one writer.',
    distribution: 'Cell', access: ['Zone', 'Region'], defaultAccess: 'Zone', ha: { writers: 1, replicas: 2 }, maxReplicas: 3, singleRunning: false,
    hostTypes: ['CM', 'VM'], pool: { kind: 'resources' },
    sizes: { normal: { cpuCores: 1, ramMiB: 512, diskGiB: 100 }, standard: { cpuCores: 1, ramMiB: 1024, diskGiB: 500 }, enhanced: { cpuCores: 2, ramMiB: 2048, diskGiB: 2000, diskIops: 20000 } },
  }),
  def({
    name: 'cache', description: 'An in-memory cache built on cloud hosts (a component over a component): each replica is a cloud-host CContract.',
    distribution: 'Cell', access: ['Region', 'Zone', 'Full'], defaultAccess: 'Region', ha: { writers: 1, replicas: 2 }, maxReplicas: 5, singleRunning: false,
    hostTypes: ['VM'], pool: { kind: 'component', type: 'cloud-host' },
    sizes: { normal: { cpuCores: 2, ramMiB: 8192, diskGiB: 20 }, standard: { cpuCores: 4, ramMiB: 16384, diskGiB: 40 }, enhanced: { cpuCores: 8, ramMiB: 32768, diskGiB: 80 } },
  }),
  def({
    name: 'rdbms', description: 'A relational database: one primary (writer) and r − 1 synchronous replicas on distinct failure domains.',
    distribution: 'Cell', access: ['Region', 'Zone', 'Full'], defaultAccess: 'Region', ha: { writers: 1, replicas: 3 }, maxReplicas: 5, singleRunning: false,
    hostTypes: ['VM'], pool: { kind: 'resources' },
    sizes: { normal: { cpuCores: 4, ramMiB: 16384, diskGiB: 200 }, standard: { cpuCores: 8, ramMiB: 32768, diskGiB: 500 }, enhanced: { cpuCores: 16, ramMiB: 65536, diskGiB: 1000, diskIops: 50000 } },
  }),
  def({
    name: 'object-store', description: 'An object store (buckets): Flat, its capacity taken in bulk when the type is created (2 copies on distinct failure domains); buckets are carved inside without asking Resources again.',
    distribution: 'Flat', access: ['Region', 'Full', 'Zone'], defaultAccess: 'Region', ha: { writers: 1, replicas: 2 }, maxReplicas: 2, singleRunning: false,
    hostTypes: ['CM', 'VM'], pool: { kind: 'resources' },
    sizes: { normal: { cpuCores: 1, ramMiB: 256, diskGiB: 50 }, standard: { cpuCores: 1, ramMiB: 512, diskGiB: 100 }, enhanced: { cpuCores: 2, ramMiB: 1024, diskGiB: 200 } },
    flat: { poolSize: { cpuCores: 12, ramMiB: 24576, diskGiB: 800 } },
  }),
];
