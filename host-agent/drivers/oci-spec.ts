/**
 * The OCI runtime `config.json` of a CNode bundle: resource limits from the slice (CPU quota/period from its
 * cores, memory limit from its RAM, a pids limit), namespaces from its network interface, the ledger's identity
 * of the slice as annotations.
 */
import type { SliceSpec } from './port.ts';
import { specHash } from './port.ts';

export const ANNOTATION = {
  id: 'org.resource-ledger.slice.id',
  kind: 'org.resource-ledger.slice.kind',
  specHash: 'org.resource-ledger.slice.spec-hash',
  image: 'org.resource-ledger.slice.image',
  componentId: 'org.resource-ledger.fencing.component-id',
  replica: 'org.resource-ledger.fencing.replica',
  epoch: 'org.resource-ledger.fencing.epoch',
} as const;

export interface OciConfigOptions {
  /** cgroup path of the container (cgroupfs driver: relative to each controller's root). */
  cgroupsPath: string;
  /** CFS period in µs (default 100 000 = 100 ms). */
  cpuPeriodUs?: number;
  /** When the slice names none (default 1024). */
  defaultPidsLimit?: number;
}

/** Docker's default capability set: enough for ordinary services, nothing that administers the host. */
const CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

export interface OciLimits {
  cpuQuotaUs: number;
  cpuPeriodUs: number;
  cpuShares: number;
  memoryBytes: number;
  pids: number;
}

export function limitsFor(spec: SliceSpec, opts: Pick<OciConfigOptions, 'cpuPeriodUs' | 'defaultPidsLimit'> = {}): OciLimits {
  const period = opts.cpuPeriodUs ?? 100_000;
  return {
    cpuPeriodUs: period,
    cpuQuotaUs: spec.cpuCores * period,
    cpuShares: Math.min(262_144, spec.cpuCores * 1024),
    memoryBytes: spec.ramMiB * 1024 * 1024,
    pids: spec.pidsLimit ?? opts.defaultPidsLimit ?? 1024,
  };
}

export function ociConfig(spec: SliceSpec, opts: OciConfigOptions): Record<string, unknown> {
  const lim = limitsFor(spec, opts);
  const nic = spec.interfaces[0];
  const namespaces: Array<{ type: string; path?: string }> = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  if (!nic || nic.type === 'none') namespaces.push({ type: 'network' });
  else if (nic.type === 'netns') namespaces.push({ type: 'network', path: nic.source! });
  // type 'host': no network namespace, the host's stack is shared.

  const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOSTNAME: spec.id, ...(spec.env ?? {}) };
  const annotations: Record<string, string> = {
    [ANNOTATION.id]: spec.id,
    [ANNOTATION.kind]: spec.kind,
    [ANNOTATION.specHash]: specHash(spec),
  };
  if (spec.image) annotations[ANNOTATION.image] = spec.image.name;
  if (spec.fencing) {
    annotations[ANNOTATION.componentId] = spec.fencing.componentId;
    annotations[ANNOTATION.replica] = String(spec.fencing.replica);
    annotations[ANNOTATION.epoch] = String(spec.fencing.epoch);
  }
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: spec.command ?? ['/sbin/init'],
      env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      cwd: '/',
      capabilities: { bounding: CAPS, effective: CAPS, permitted: CAPS },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: false },
    hostname: spec.id,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      nic?.type === 'host'
        ? { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
        : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', 'size=65536k'] },
    ],
    annotations,
    linux: {
      cgroupsPath: opts.cgroupsPath,
      resources: {
        devices: [{ allow: false, access: 'rwm' }],
        memory: { limit: lim.memoryBytes },
        cpu: { shares: lim.cpuShares, quota: lim.cpuQuotaUs, period: lim.cpuPeriodUs },
        pids: { limit: lim.pids },
      },
      namespaces,
      maskedPaths: [
        '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
        '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}
