/**
 * The drivers a host agent can run, and one zod-validated way to make one from configuration
 * (`ledger agent --driver libvirt|oci|ipmi|sim`).
 */
import { z } from 'zod';
import { DriverError, type SliceDriver } from './port.ts';
import { LibvirtDriver } from './libvirt.ts';
import { OciDriver } from './oci.ts';
import { IpmiDriver } from './ipmi.ts';
import { SimDriver } from './sim.ts';

export * from './port.ts';
export { LibvirtDriver, type LibvirtDriverOptions } from './libvirt.ts';
export { OciDriver, type OciDriverOptions } from './oci.ts';
export { IpmiDriver, fence, powerStatus, powerAction, type IpmiEndpoint, type IpmiDriverOptions, type FenceResult } from './ipmi.ts';
export { SimDriver, type SimDriverOptions, type SimOp } from './sim.ts';

const absPath = z.string().min(1).refine((p) => p.startsWith('/'), 'must be an absolute path');
const latency = z.union([z.number().min(0), z.object({ min: z.number().min(0), max: z.number().min(0) })]);

export const DriverConfig = z.discriminatedUnion('driver', [
  z.object({
    driver: z.literal('libvirt'),
    /** e.g. qemu:///system, or test:///<node.xml> */
    uri: z.string().regex(/^[a-z0-9+]+:\/\//, 'must be a libvirt URI such as qemu:///system'),
    diskDir: absPath,
    domainType: z.string().regex(/^[a-z]+$/).optional(),
    stopTimeoutMs: z.number().int().positive().optional(),
  }),
  z.object({
    driver: z.literal('oci'),
    stateDir: absPath,
    runcRoot: absPath.optional(),
    cgroupParent: z.string().regex(/^[A-Za-z0-9_.\/-]+$/).optional(),
    stopTimeoutMs: z.number().int().positive().optional(),
  }),
  z.object({
    driver: z.literal('ipmi'),
    bmc: z.object({
      host: z.string().regex(/^[A-Za-z0-9_.:-]{1,255}$/),
      port: z.number().int().min(1).max(65535).optional(),
      user: z.string().min(1).max(16),
      password: z.string().min(1).max(20),
      cipherSuite: z.number().int().min(0).max(17).optional(),
    }),
    stateFile: absPath,
    softOffTimeoutMs: z.number().int().positive().optional(),
  }),
  z.object({
    driver: z.literal('sim'),
    hostId: z.string().regex(/^[A-Za-z0-9_]{1,64}$/).optional(),
    persistFile: absPath.optional(),
    latencyMs: z.union([latency, z.strictObject({
      create: latency.optional(), start: latency.optional(), stop: latency.optional(),
      hibernate: latency.optional(), resume: latency.optional(), destroy: latency.optional(),
    })]).optional(),
    failureRate: z.number().min(0).max(1).optional(),
    seed: z.number().int().optional(),
    capacity: z.object({ cpuCores: z.number().int().positive(), ramMiB: z.number().int().positive(), diskGiB: z.number().int().positive() }).optional(),
  }),
]);
export type DriverConfig = z.input<typeof DriverConfig>;

/** Makes the driver a configuration names; a wrong configuration throws DriverError('invalid-spec') naming each field. */
export function createDriver(config: unknown): SliceDriver {
  const r = DriverConfig.safeParse(config);
  if (!r.success) {
    throw new DriverError('invalid-spec', `invalid driver configuration: ${r.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`).join('; ')}`);
  }
  const c = r.data;
  switch (c.driver) {
    case 'libvirt':
      return new LibvirtDriver({ uri: c.uri, diskDir: c.diskDir, xml: c.domainType ? { domainType: c.domainType } : undefined, stopTimeoutMs: c.stopTimeoutMs });
    case 'oci':
      return new OciDriver({ stateDir: c.stateDir, runcRoot: c.runcRoot, cgroupParent: c.cgroupParent, stopTimeoutMs: c.stopTimeoutMs });
    case 'ipmi':
      return new IpmiDriver({ bmc: c.bmc, stateFile: c.stateFile, softOffTimeoutMs: c.softOffTimeoutMs });
    case 'sim':
      return new SimDriver({ hostId: c.hostId, persistFile: c.persistFile, latencyMs: c.latencyMs, failureRate: c.failureRate, seed: c.seed, capacity: c.capacity });
  }
}
