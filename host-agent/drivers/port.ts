/**
 * The port between a host agent and the thing that really runs slices on its host.
 *
 * A driver executes slice commands and reports what it observes. Every operation is idempotent: asking for the
 * state a slice is already in changes nothing and reports that state (starting a running slice is a no-op that
 * reports `running`). Mutating operations resolve with the state observed *after* the operation, so the agent
 * reports what it saw, not what it asked for.
 */
import { createHash } from 'node:crypto';
import { isAbsolute } from 'node:path';
import { z } from 'zod';

export type DriverKind = 'libvirt' | 'oci' | 'ipmi' | 'sim';

/** What a driver can observe about a slice. `absent`: the driver knows nothing of it (never created, or destroyed). */
export const ObservedState = z.enum(['running', 'stopped', 'hibernated', 'failed', 'absent']);
export type ObservedState = z.infer<typeof ObservedState>;

/** Slice ids double as libvirt domain names, runc container ids and file names: keep them to this alphabet. */
export const SLICE_ID_PATTERN = /^[A-Za-z0-9_]{1,64}$/;
export const SliceId = z.string().regex(SLICE_ID_PATTERN, 'slice id must match [A-Za-z0-9_]{1,64}');

export const SliceKind = z.enum(['VNode', 'CNode', 'BNode']);
export type SliceKind = z.infer<typeof SliceKind>;

/** Characters allowed in host paths we hand to tools (no whitespace, quotes, commas or colons: mount options and
 *  virsh command lines stay unambiguous). */
const SAFE_PATH = /^\/[A-Za-z0-9_.\/+@-]*$/;
const hostPath = z.string().min(1).max(1024)
  .refine((p) => isAbsolute(p), 'must be an absolute path')
  .refine((p) => SAFE_PATH.test(p) && !p.split('/').includes('..'), 'path may only hold [A-Za-z0-9_./+@-] and no ".." segment');

export const ImageSpec = z.object({
  /** Catalogue name of the image (informational; recorded with the slice). */
  name: z.string().min(1).max(128),
  /** Where the image lives on the host: a disk image file (VNode) or a root filesystem directory (CNode). */
  path: hostPath,
  /** Disk image format (VNode). Inferred from the file name when omitted (`.qcow2` → qcow2, else raw). */
  format: z.enum(['qcow2', 'raw']).optional(),
  /** `overlay`: template boot, a copy-on-write layer over the shared image; `copy`: a full private copy. */
  boot: z.enum(['overlay', 'copy']).default('overlay'),
});
export type ImageSpec = z.infer<typeof ImageSpec>;

export const NetworkInterfaceSpec = z.object({
  /**
   * `network`: a libvirt virtual network named `source`; `bridge`: a host bridge named `source`; `user`: user-mode
   * NAT (VNode); `netns`: join the network namespace at path `source` (CNode, prepared by the network layer);
   * `host`: share the host's network stack (CNode); `none`: an isolated stack with loopback only.
   */
  type: z.enum(['network', 'bridge', 'user', 'netns', 'host', 'none']),
  source: z.string().regex(/^[A-Za-z0-9_.\/-]{1,255}$/, 'source may only hold [A-Za-z0-9_./-]').optional(),
  mac: z.string().regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, 'mac must look like 52:54:00:12:34:56').optional(),
  model: z.enum(['virtio', 'e1000', 'rtl8139']).optional(),
});
export type NetworkInterfaceSpec = z.infer<typeof NetworkInterfaceSpec>;

/** Fencing token of an HA slice: the agent refuses commands carrying an older epoch than it has seen. */
export const FencingSpec = z.object({
  componentId: z.string().regex(/^[A-Za-z0-9_]{1,64}$/, 'componentId must match [A-Za-z0-9_]{1,64}'),
  replica: z.number().int().min(0).max(1023),
  epoch: z.number().int().min(0),
});
export type FencingSpec = z.infer<typeof FencingSpec>;

const ALLOWED_INTERFACES: Record<SliceKind, NetworkInterfaceSpec['type'][]> = {
  VNode: ['network', 'bridge', 'user', 'none'],
  CNode: ['netns', 'host', 'none'],
  BNode: ['network', 'bridge', 'none'],
};

export const SliceSpec = z.object({
  id: SliceId,
  kind: SliceKind,
  cpuCores: z.number().int().min(1).max(1024),
  ramMiB: z.number().int().min(16).max(16 * 1024 * 1024),
  diskGiB: z.number().int().min(1).max(1024 * 1024),
  image: ImageSpec.optional(),
  interfaces: z.array(NetworkInterfaceSpec).max(8).default([]),
  fencing: FencingSpec.optional(),
  /** CNode: the process to run (defaults to `/sbin/init`). */
  command: z.array(z.string().min(1).max(4096)).min(1).max(256).optional(),
  /** CNode: environment of that process. */
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(32768)).optional(),
  /** CNode: maximum number of processes (default 1024). */
  pidsLimit: z.number().int().min(1).max(4_194_304).optional(),
}).superRefine((s, ctx) => {
  if ((s.kind === 'VNode' || s.kind === 'CNode') && !s.image) {
    ctx.addIssue({ code: 'custom', path: ['image'], message: `a ${s.kind} needs an image` });
  }
  if (s.kind === 'CNode' && s.interfaces.length > 1) {
    ctx.addIssue({ code: 'custom', path: ['interfaces'], message: 'a CNode has at most one network interface (its network namespace)' });
  }
  s.interfaces.forEach((nic, i) => {
    if (!ALLOWED_INTERFACES[s.kind].includes(nic.type)) {
      ctx.addIssue({ code: 'custom', path: ['interfaces', i, 'type'], message: `interface type ${nic.type} is not available to a ${s.kind} (use ${ALLOWED_INTERFACES[s.kind].join(', ')})` });
    }
    if ((nic.type === 'network' || nic.type === 'bridge' || nic.type === 'netns') && !nic.source) {
      ctx.addIssue({ code: 'custom', path: ['interfaces', i, 'source'], message: `interface type ${nic.type} needs a source` });
    }
    if (nic.type === 'netns' && nic.source && !nic.source.startsWith('/')) {
      ctx.addIssue({ code: 'custom', path: ['interfaces', i, 'source'], message: 'a netns source is an absolute path such as /var/run/netns/tenant_a' });
    }
  });
});
export type SliceSpec = z.infer<typeof SliceSpec>;
export type SliceSpecInput = z.input<typeof SliceSpec>;

export type DriverErrorCode =
  | 'invalid-spec' // the slice description is wrong for this driver
  | 'not-found' // no such slice
  | 'conflict' // a slice with this id exists with another description
  | 'invalid-state' // the operation makes no sense from the observed state (hibernate a stopped slice)
  | 'unsupported' // the driver cannot do this at all (hibernate bare metal)
  | 'command-failed' // the underlying tool said no
  | 'unreachable' // the tool or device does not answer
  | 'timeout'
  | 'injected-failure'; // sim driver: a failure asked for by the operator or the test

export class DriverError extends Error {
  constructor(readonly code: DriverErrorCode, message: string, readonly sliceId?: string, readonly detail?: string) {
    super(message);
    this.name = 'DriverError';
  }
}

/** Parses a slice description, throwing a DriverError('invalid-spec') that names every wrong field. */
export function parseSliceSpec(input: unknown, expectKind?: SliceKind): SliceSpec {
  const r = SliceSpec.safeParse(input);
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.join('.') || '(spec)'}: ${i.message}`).join('; ');
    const id = typeof input === 'object' && input !== null && 'id' in input ? String((input as { id: unknown }).id) : undefined;
    throw new DriverError('invalid-spec', `invalid slice spec: ${msg}`, id);
  }
  if (expectKind && r.data.kind !== expectKind) {
    throw new DriverError('invalid-spec', `this driver runs ${expectKind}s, not ${r.data.kind}s`, r.data.id);
  }
  return r.data;
}

export function assertSliceId(id: string): void {
  if (!SLICE_ID_PATTERN.test(id)) throw new DriverError('invalid-spec', `invalid slice id ${JSON.stringify(id)}: must match [A-Za-z0-9_]{1,64}`);
}

/** Stable hash of what defines a slice (everything but its fencing token, which moves on by itself). */
export function specHash(spec: SliceSpec): string {
  const { fencing: _f, ...rest } = spec;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex').slice(0, 32);
}

export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

export interface StopOptions {
  /** Pull the plug instead of asking the guest/process to shut down. */
  force?: boolean;
  /** How long a graceful stop may take before the driver pulls the plug (driver default otherwise). */
  timeoutMs?: number;
}

/** One slice as a driver sees it, for reconciliation. */
export interface ObservedSlice {
  id: string;
  state: ObservedState;
  /** True when the driver recognises the slice as one the ledger created (metadata, annotations or its own records);
   *  false for anything else found on the host (a domain or container nobody asked the ledger for). */
  managed: boolean;
  kind?: SliceKind;
  fencing?: FencingSpec;
  /** The tool's own words for the state, e.g. `shut off (saved)`, `paused`, `chassis power on`. */
  detail?: string;
  /** Present and true only for slices of the simulated driver. */
  simulated?: boolean;
}

/** Host figures; each is present only where the driver could read it. */
export interface HostFigures {
  cpuCores?: number;
  cpuMHz?: number;
  /** Load average over one minute, or the simulated equivalent. */
  loadAvg1?: number;
  /** Cumulative CPU time of the host in ms (for rates between two reports). */
  cpuTimeMs?: number;
  ramMiB?: number;
  ramUsedMiB?: number;
  diskGiB?: number;
  diskUsedGiB?: number;
  /** IPMI: chassis power. */
  power?: 'on' | 'off';
}

export interface SliceFigures {
  id: string;
  state: ObservedState;
  /** Cumulative CPU time in ms. */
  cpuTimeMs?: number;
  ramUsedMiB?: number;
  ramLimitMiB?: number;
  diskUsedMiB?: number;
  pids?: number;
}

export interface LoadReport {
  driver: DriverKind;
  /** True when the figures are made up by the simulated driver. */
  simulated: boolean;
  /** UTC ISO 8601. */
  at: string;
  host: HostFigures;
  slices: SliceFigures[];
}

export interface SliceDriver {
  readonly kind: DriverKind;
  /** True only for the simulated driver. */
  readonly simulated: boolean;
  /** Makes the slice exist, stopped (disk/bundle prepared, domain defined). Same spec again: no-op.
   *  Same id with another spec: DriverError('conflict'). A new fencing token for the same spec is recorded. */
  create(slice: SliceSpecInput): Promise<ObservedState>;
  /** Runs the slice (from stopped, failed or hibernated). */
  start(id: string): Promise<ObservedState>;
  /** Stops the slice; from hibernated, discards the saved state. Absent slices report `absent`. */
  stop(id: string, opts?: StopOptions): Promise<ObservedState>;
  /** Saves the running slice's state and frees what the driver can free. */
  hibernate(id: string): Promise<ObservedState>;
  /** Brings a hibernated slice back to running. */
  resume(id: string): Promise<ObservedState>;
  /** Stops the slice if it runs and removes everything the driver made for it. Absent: no-op. */
  destroy(id: string): Promise<ObservedState>;
  status(id: string): Promise<ObservedState>;
  /** Every slice the driver sees on its host, managed or not. */
  list(): Promise<ObservedSlice[]>;
  load(): Promise<LoadReport>;
  /** Releases long-lived resources (a virsh session, a state file writer). */
  close(): Promise<void>;
}
