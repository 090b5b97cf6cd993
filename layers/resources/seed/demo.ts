/**
 * The demo topology `ledger seed` builds (and `ledger serve` on an empty data directory, in development mode):
 *
 *   2 regions (eu-west, us-east) × 2 zones, each zone with two VM hosts, a CM host and a BM host on different
 *   racks (areas), a public network with a /28 of public IPs; a backbone network per region; per region three OS
 *   images (qcow2, oci) and a PXE host image; and a demo tenant (user "Demo Tenant") with a project "demo".
 *
 * Everything goes through the real deciders (ResourcesService, ProjectsService) with fixed ids and fixed command ids
 * (`seed:v1:…`), so running it again changes nothing and appends nothing.
 */
import { createHash } from 'node:crypto';
import type { Ledger } from '../../../core/ledger.ts';
import type { Actor } from '../../../schema/envelope.ts';
import { ProjectsService } from '../../projects/service.ts';
import { ResourcesService } from '../service.ts';

export const SEED_ACTOR: Actor = { kind: 'operator', id: 'seed' };
const V = 'seed:v1';

export interface DemoSummary {
  regions: string[];
  zones: string[];
  hosts: { id: string; type: 'VM' | 'CM' | 'BM'; zoneId: string; area: string }[];
  networks: string[];
  images: string[];
  tenant: { userId: string; name: string; projectId: string };
  /** Events this run appended (0 when the demo was there already). */
  appended: number;
}

const digest = (name: string) => `sha256:${createHash('sha256').update(`demo image ${name}`).digest('hex')}`;

const HOSTS = {
  VM: {
    resources: { cpuCores: 32, cpuMHz: 76_800, ramMiB: 131_072, diskGiB: 2_000, diskIops: 100_000 },
    reserved: { cpuCores: 2, ramMiB: 8_192, diskGiB: 100 }, allocationRatios: { cpuCores: 4, ramMiB: 1.5 },
  },
  CM: {
    resources: { cpuCores: 16, cpuMHz: 38_400, ramMiB: 65_536, diskGiB: 1_000, diskIops: 50_000 },
    reserved: { cpuCores: 1, ramMiB: 2_048, diskGiB: 50 }, allocationRatios: { cpuCores: 2 },
  },
  BM: { resources: { cpuCores: 64, cpuMHz: 153_600, ramMiB: 262_144, diskGiB: 4_000, diskIops: 200_000 } },
} as const;

const REGIONS = [
  { regionId: 'r_eu_west', name: 'eu-west', description: 'Europe (west)', short: 'euw', dc: 'par1', zones: [
    { zoneId: 'z_euw_a', name: 'eu-west-a', pool: '203.0.113.0/28' },
    { zoneId: 'z_euw_b', name: 'eu-west-b', pool: '203.0.113.16/28' },
  ] },
  { regionId: 'r_us_east', name: 'us-east', description: 'North America (east)', short: 'use', dc: 'iad1', zones: [
    { zoneId: 'z_use_a', name: 'us-east-a', pool: '198.51.100.0/28' },
    { zoneId: 'z_use_b', name: 'us-east-b', pool: '198.51.100.16/28' },
  ] },
];

/** The first usable address of a /28 (the gateway, kept out of the pool). */
const gatewayOf = (cidr: string) => { const [ip] = cidr.split('/'); const o = ip.split('.').map(Number); o[3] += 1; return o.join('.'); };

export async function seedDemo(ledger: Pick<Ledger, 'execute' | 'load' | 'store'>): Promise<DemoSummary> {
  const before = await ledger.store.headPosition();
  const resources = new ResourcesService(ledger);
  const projects = new ProjectsService(ledger);
  const cmd = (id: string) => ({ commandId: `${V}:${id}`, correlationId: `${V}` });
  const summary: DemoSummary = { regions: [], zones: [], hosts: [], networks: [], images: [], tenant: { userId: '', name: 'Demo Tenant', projectId: '' }, appended: 0 };

  for (const r of REGIONS) {
    await resources.registerRegion(SEED_ACTOR, { regionId: r.regionId, name: r.name, description: r.description }, cmd(r.regionId));
    summary.regions.push(r.regionId);
    for (const [zi, z] of r.zones.entries()) {
      await resources.registerZone(SEED_ACTOR, { zoneId: z.zoneId, regionId: r.regionId, name: z.name }, cmd(z.zoneId));
      summary.zones.push(z.zoneId);
      const zoneKey = z.zoneId.slice(2); // euw_a
      const hosts: { n: string; type: 'VM' | 'CM' | 'BM'; rack: number }[] = [
        { n: 'vm1', type: 'VM', rack: 1 }, { n: 'vm2', type: 'VM', rack: 2 }, { n: 'cm1', type: 'CM', rack: 1 }, { n: 'bm1', type: 'BM', rack: 3 },
      ];
      for (const h of hosts) {
        const hostId = `h_${zoneKey}_${h.n}`;
        const area = `${r.dc}/hall${zi + 1}/rack${h.rack}`;
        await resources.registerHost(SEED_ACTOR, { hostId, zoneId: z.zoneId, name: `${z.name}-${h.n}`, type: h.type, area, ...HOSTS[h.type] }, cmd(hostId));
        summary.hosts.push({ id: hostId, type: h.type, zoneId: z.zoneId, area });
      }
      const networkId = `n_${zoneKey}_public`;
      await resources.registerNetwork(SEED_ACTOR, {
        networkId, zoneId: z.zoneId, name: `${z.name}-public`, bandwidthMbps: 10_000,
        publicIpPool: { cidrs: [z.pool], addresses: [], excluded: [gatewayOf(z.pool)] }, switchCapacity: { segments: 4_094 },
      }, cmd(networkId));
      summary.networks.push(networkId);
    }
    const backbone = `n_${r.short}_backbone`;
    await resources.registerNetwork(SEED_ACTOR, {
      networkId: backbone, regionId: r.regionId, name: `${r.name}-backbone`, bandwidthMbps: 40_000, switchCapacity: { segments: 4_094 },
    }, cmd(backbone));
    summary.networks.push(backbone);
    const images = [
      { id: `i_${r.short}_debian12`, name: 'debian-12', kind: 'os', format: 'qcow2', os: { family: 'debian', version: '12' }, sizeGiB: 2 },
      { id: `i_${r.short}_ubuntu2404`, name: 'ubuntu-24.04', kind: 'os', format: 'qcow2', os: { family: 'ubuntu', version: '24.04' }, sizeGiB: 3 },
      { id: `i_${r.short}_alpine320`, name: 'alpine-3.20', kind: 'os', format: 'oci', os: { family: 'alpine', version: '3.20' }, sizeGiB: 1 },
      { id: `i_${r.short}_hostos`, name: 'host-installer', kind: 'host', format: 'pxe', sizeGiB: 1,
        boot: { kernel: 'http://pxe.internal/vmlinuz', initrd: 'http://pxe.internal/initrd.img', cmdline: 'console=ttyS0 auto=true' } },
    ];
    for (const { id, ...image } of images) {
      await resources.registerImage(SEED_ACTOR, { imageId: id, regionId: r.regionId, ...image, digest: digest(`${r.name}/${image.name}`) }, cmd(id));
      summary.images.push(id);
    }
  }

  const user = await projects.createUser(SEED_ACTOR, { name: summary.tenant.name }, { idempotencyKey: 'demo-tenant', correlationId: V });
  const tenantActor: Actor = { kind: 'tenant', id: user.id };
  const project = await projects.createProject(tenantActor, { name: 'demo', description: 'A project to explore the ledger with' }, { idempotencyKey: 'demo-project', correlationId: V });
  summary.tenant = { ...summary.tenant, userId: user.id, projectId: project.id };
  summary.appended = (await ledger.store.headPosition()) - before;
  return summary;
}

/** Seeds the demo when the log is empty (a newcomer's first start); null when there was something already. */
export async function seedIfEmpty(ledger: Pick<Ledger, 'execute' | 'load' | 'store'>): Promise<DemoSummary | null> {
  if ((await ledger.store.headPosition()) !== 0) return null;
  return seedDemo(ledger);
}
