/** Shared fixtures for CContract specs and scheduler tests. */
import type { Needs } from './events.ts';

export const SIZE = { cpuCores: 4, cpuMHz: 0, ramMiB: 8192, diskGiB: 80, diskIops: 0 };
export const needs = (extra: Partial<Needs> = {}): Needs => ({
  componentId: 'c_db1', tenantId: 'u_ada', projectId: 'p_web',
  type: { typeId: 'ct_rdbms', name: 'rdbms', version: 1, distribution: 'Cell', singleRunning: false, pool: { kind: 'resources' }, hostTypes: ['VM'] },
  sizeName: 'standard', size: SIZE, access: 'Region', regionId: 'r_eu', replicas: 3, writers: 1, ...extra,
});
export const decision = (replica: number, epoch = 1, hostId = `h_${replica}`) => ({
  replica, epoch, hostId, zoneId: `z_${replica}`, regionId: 'r_eu', area: `dc1/row${replica}/rack1`, xnodeId: `xn_${replica}_${epoch}`, score: 0.5,
});
export const reasons = { policy: 'binpack' as const, candidates: 9, filtered: { 'same-zone': 2 }, top: [{ replica: 0, hostId: 'h_0', score: 0.5 }], why: 'test' };
