/**
 * libvirt domain XML for a VNode, and the few read-backs the driver needs from libvirt's XML.
 *
 * The slice's identity (id, kind, spec hash, image, fencing token) is kept in the domain's <metadata> under the
 * ledger's namespace, so reconciliation can tell ledger slices from anything else defined on the host.
 */
import { createHash } from 'node:crypto';
import type { FencingSpec, SliceSpec } from './port.ts';
import { specHash } from './port.ts';
import type { DiskFormat } from './qcow2.ts';

export const LEDGER_XML_NS = 'urn:resource-ledger:slice:1';

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

export function unescapeXml(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

/** A stable locally administered MAC in QEMU's 52:54:00 range, from the slice id and interface index. */
export function macFor(id: string, index: number): string {
  const h = createHash('sha256').update(`${id}#${index}`).digest();
  return ['52', '54', '00', ...[h[0], h[1], h[2]].map((b) => b!.toString(16).padStart(2, '0'))].join(':');
}

export interface DomainDisk {
  /** The slice's own disk file (the overlay or the copy). */
  path: string;
  format: DiskFormat;
  /** For an overlay: the template it is backed by. */
  backing?: { path: string; format: DiskFormat };
}

export interface DomainXmlOptions {
  /** `kvm` on a real hypervisor, `qemu` for emulation, `test` for libvirt's test driver (which accepts kvm too). */
  domainType?: string;
  arch?: string;
  machine?: string;
  /** Default `host-passthrough` on kvm; omitted when undefined elsewhere. */
  cpuMode?: 'host-passthrough' | 'host-model';
  /** Adds a serial console and a guest-agent channel (real hypervisors). */
  consoles?: boolean;
}

export interface DomainIdentity {
  /** The UUID libvirt gave the domain: needed to redefine an existing domain. */
  uuid?: string;
}

export function domainXml(spec: SliceSpec, disk: DomainDisk, opts: DomainXmlOptions = {}, ident: DomainIdentity = {}): string {
  const type = opts.domainType ?? 'kvm';
  const arch = opts.arch ?? 'x86_64';
  const cpuMode = opts.cpuMode ?? (type === 'kvm' ? 'host-passthrough' : undefined);
  const x = escapeXml;
  const lines: string[] = [];
  lines.push(`<domain type='${x(type)}'>`);
  lines.push(`  <name>${x(spec.id)}</name>`);
  if (ident.uuid) lines.push(`  <uuid>${x(ident.uuid)}</uuid>`);
  lines.push(`  <title>resource-ledger VNode ${x(spec.id)}</title>`);
  lines.push('  <metadata>');
  lines.push(`    <ledger:slice xmlns:ledger='${LEDGER_XML_NS}' id='${x(spec.id)}' kind='${spec.kind}' specHash='${specHash(spec)}'>`);
  if (spec.image) lines.push(`      <ledger:image name='${x(spec.image.name)}' path='${x(spec.image.path)}' boot='${spec.image.boot}'/>`);
  if (spec.fencing) lines.push(`      <ledger:fencing componentId='${x(spec.fencing.componentId)}' replica='${spec.fencing.replica}' epoch='${spec.fencing.epoch}'/>`);
  lines.push(`      <ledger:spec>${x(JSON.stringify(spec))}</ledger:spec>`);
  lines.push('    </ledger:slice>');
  lines.push('  </metadata>');
  lines.push(`  <memory unit='MiB'>${spec.ramMiB}</memory>`);
  lines.push(`  <currentMemory unit='MiB'>${spec.ramMiB}</currentMemory>`);
  lines.push(`  <vcpu placement='static'>${spec.cpuCores}</vcpu>`);
  lines.push('  <os>');
  lines.push(`    <type arch='${x(arch)}'${opts.machine ? ` machine='${x(opts.machine)}'` : ''}>hvm</type>`);
  lines.push(`    <boot dev='hd'/>`);
  lines.push('  </os>');
  lines.push('  <features><acpi/><apic/></features>');
  if (cpuMode) lines.push(`  <cpu mode='${cpuMode}'/>`);
  lines.push('  <on_poweroff>destroy</on_poweroff>');
  lines.push('  <on_reboot>restart</on_reboot>');
  lines.push('  <on_crash>destroy</on_crash>');
  lines.push('  <devices>');
  lines.push(`    <disk type='file' device='disk'>`);
  lines.push(`      <driver name='qemu' type='${disk.format}' discard='unmap'/>`);
  lines.push(`      <source file='${x(disk.path)}'/>`);
  if (disk.backing) {
    lines.push(`      <backingStore type='file'>`);
    lines.push(`        <format type='${disk.backing.format}'/>`);
    lines.push(`        <source file='${x(disk.backing.path)}'/>`);
    lines.push('      </backingStore>');
  }
  lines.push(`      <target dev='vda' bus='virtio'/>`);
  lines.push('    </disk>');
  spec.interfaces.forEach((nic, i) => {
    if (nic.type === 'none') return;
    const mac = nic.mac ?? macFor(spec.id, i);
    const model = nic.model ?? 'virtio';
    if (nic.type === 'network') {
      lines.push(`    <interface type='network'>`, `      <source network='${x(nic.source!)}'/>`);
    } else if (nic.type === 'bridge') {
      lines.push(`    <interface type='bridge'>`, `      <source bridge='${x(nic.source!)}'/>`);
    } else {
      lines.push(`    <interface type='user'>`);
    }
    lines.push(`      <mac address='${mac.toLowerCase()}'/>`, `      <model type='${model}'/>`, '    </interface>');
  });
  if (opts.consoles) {
    lines.push(`    <serial type='pty'><target port='0'/></serial>`);
    lines.push(`    <console type='pty'><target type='serial' port='0'/></console>`);
    lines.push(`    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>`);
  }
  lines.push('  </devices>');
  lines.push('</domain>');
  return `${lines.join('\n')}\n`;
}

/** What the driver reads back from a domain's ledger metadata. */
export interface LedgerMetadata {
  id?: string;
  kind?: string;
  specHash?: string;
  fencing?: FencingSpec;
  spec?: unknown;
  /** The slice's disk files the driver created (so destroy removes exactly those). */
}

function attr(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}=(?:'([^']*)'|"([^"]*)")`).exec(tag);
  if (!m) return undefined;
  return unescapeXml(m[1] ?? m[2] ?? '');
}

/** Parses the ledger's metadata element (as printed by `virsh metadata` or inside `virsh dumpxml`). */
export function parseLedgerMetadata(xml: string): LedgerMetadata | undefined {
  const open = /<(?:[A-Za-z0-9_]+:)?slice\b[^>]*>/.exec(xml);
  if (!open) return undefined;
  const md: LedgerMetadata = { id: attr(open[0], 'id'), kind: attr(open[0], 'kind'), specHash: attr(open[0], 'specHash') };
  const f = /<(?:[A-Za-z0-9_]+:)?fencing\b[^>]*>/.exec(xml);
  if (f) {
    const componentId = attr(f[0], 'componentId');
    const replica = Number(attr(f[0], 'replica'));
    const epoch = Number(attr(f[0], 'epoch'));
    if (componentId && Number.isInteger(replica) && Number.isInteger(epoch)) md.fencing = { componentId, replica, epoch };
  }
  const s = /<(?:[A-Za-z0-9_]+:)?spec>([\s\S]*?)<\/(?:[A-Za-z0-9_]+:)?spec>/.exec(xml);
  if (s) {
    try { md.spec = JSON.parse(unescapeXml(s[1]!)); } catch { /* leave undefined */ }
  }
  return md;
}

/** The figures a test or an operator checks in `virsh dumpxml` output. */
export interface DomainSummary {
  name?: string;
  type?: string;
  vcpus?: number;
  memoryKiB?: number;
  disks: Array<{ file?: string; format?: string; target?: string; backingFile?: string; backingFormat?: string }>;
  interfaces: Array<{ type?: string; source?: string; mac?: string; model?: string }>;
}

function toKiB(value: number, unit: string | undefined): number {
  const u = (unit ?? 'KiB').toLowerCase();
  const f: Record<string, number> = { b: 1 / 1024, bytes: 1 / 1024, k: 1, kib: 1, kb: 1000 / 1024, m: 1024, mib: 1024, mb: 1e6 / 1024, g: 1024 * 1024, gib: 1024 * 1024, gb: 1e9 / 1024 };
  return Math.round(value * (f[u] ?? 1));
}

export function summarizeDomainXml(xml: string): DomainSummary {
  const sum: DomainSummary = { disks: [], interfaces: [] };
  const dom = /<domain\b[^>]*>/.exec(xml);
  if (dom) sum.type = attr(dom[0], 'type');
  sum.name = /<name>([^<]*)<\/name>/.exec(xml)?.[1];
  const vcpu = /<vcpu\b[^>]*>(\d+)<\/vcpu>/.exec(xml);
  if (vcpu) sum.vcpus = Number(vcpu[1]);
  const mem = /<memory\b([^>]*)>(\d+)<\/memory>/.exec(xml);
  if (mem) sum.memoryKiB = toKiB(Number(mem[2]), attr(mem[1]!, 'unit'));
  for (const d of xml.matchAll(/<disk\b[^>]*>([\s\S]*?)<\/disk>/g)) {
    const body = d[1]!;
    // The (possibly nested) backing chain sits inside the disk element: cut it out of the disk's own fields.
    const bsStart = body.search(/<backingStore\b/);
    const bsEnd = body.lastIndexOf('</backingStore>');
    const own = bsStart >= 0 && bsEnd > bsStart ? body.slice(0, bsStart) + body.slice(bsEnd + '</backingStore>'.length) : body;
    const backing = bsStart >= 0 && bsEnd > bsStart ? body.slice(bsStart, bsEnd) : undefined;
    const drv = /<driver\b[^>]*>/.exec(own)?.[0] ?? '';
    const src = /<source\b[^>]*>/.exec(own)?.[0] ?? '';
    const tgt = /<target\b[^>]*>/.exec(own)?.[0] ?? '';
    const disk: DomainSummary['disks'][number] = { file: attr(src, 'file'), format: attr(drv, 'type'), target: attr(tgt, 'dev') };
    if (backing) {
      disk.backingFile = attr(/<source\b[^>]*>/.exec(backing)?.[0] ?? '', 'file');
      disk.backingFormat = attr(/<format\b[^>]*>/.exec(backing)?.[0] ?? '', 'type');
    }
    sum.disks.push(disk);
  }
  for (const m of xml.matchAll(/<interface\b([^>]*)>([\s\S]*?)<\/interface>/g)) {
    const body = m[2]!;
    const src = /<source\b[^>]*>/.exec(body)?.[0] ?? '';
    sum.interfaces.push({
      type: attr(m[1]!, 'type'),
      source: attr(src, 'network') ?? attr(src, 'bridge'),
      mac: attr(/<mac\b[^>]*>/.exec(body)?.[0] ?? '', 'address'),
      model: attr(/<model\b[^>]*>/.exec(body)?.[0] ?? '', 'type'),
    });
  }
  return sum;
}
