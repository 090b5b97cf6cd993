/**
 * Disk files for VNodes: a qcow2 overlay backed by a template image (template boot) or a full private copy.
 *
 * `qemu-img` does this on a real hypervisor host and is used when present. Hosts (and test sandboxes) without it
 * get a built-in writer of an empty qcow2 version 3 image — header, one refcount table, one refcount block and a
 * zeroed L1 table, the same layout `qemu-img create -f qcow2` lays down — optionally with a backing file and its
 * format recorded in the header, which is all an overlay is before the guest writes to it.
 */
import { copyFile, open, stat, truncate, constants } from 'node:fs/promises';
import { execTool, which } from './exec.ts';
import { DriverError } from './port.ts';

const QCOW2_MAGIC = 0x514649fb;
const CLUSTER_BITS = 16;
const CLUSTER = 1 << CLUSTER_BITS; // 64 KiB
const HEADER_LENGTH = 104; // version 3 header without the optional compression-type field
const EXT_BACKING_FORMAT = 0xe2792aca;

export type DiskFormat = 'qcow2' | 'raw';

export interface Qcow2Header {
  version: number;
  virtualSize: number;
  clusterBits: number;
  backingFile?: string;
  backingFormat?: string;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
}

function pad8(n: number): number { return (n + 7) & ~7; }

/** The bytes of an empty qcow2 v3 image of `virtualSize` bytes, optionally over a backing file. */
export function qcow2Bytes(virtualSize: number, backing?: { file: string; format: DiskFormat }): Buffer {
  if (!Number.isSafeInteger(virtualSize) || virtualSize <= 0 || virtualSize % 512 !== 0) {
    throw new DriverError('invalid-spec', `qcow2 virtual size must be a positive multiple of 512 bytes, got ${virtualSize}`);
  }
  const l2Entries = CLUSTER / 8;
  const l1Size = Math.ceil(virtualSize / (CLUSTER * l2Entries));
  const l1Clusters = Math.max(1, Math.ceil((l1Size * 8) / CLUSTER));
  const refcountTableOffset = CLUSTER;
  const refcountBlockOffset = 2 * CLUSTER;
  const l1TableOffset = 3 * CLUSTER;
  const totalClusters = 3 + l1Clusters;
  if (totalClusters > CLUSTER / 2) throw new DriverError('invalid-spec', 'qcow2 image too large for the built-in writer');

  const buf = Buffer.alloc(totalClusters * CLUSTER);
  // Header extensions follow the fixed header; the backing file name follows the extensions.
  let extAt = HEADER_LENGTH;
  if (backing) {
    const fmt = Buffer.from(backing.format, 'ascii');
    buf.writeUInt32BE(EXT_BACKING_FORMAT, extAt);
    buf.writeUInt32BE(fmt.length, extAt + 4);
    fmt.copy(buf, extAt + 8);
    extAt += 8 + pad8(fmt.length);
  }
  buf.writeUInt32BE(0, extAt); // end of extensions
  buf.writeUInt32BE(0, extAt + 4);
  extAt += 8;
  let backingOffset = 0;
  let backingSize = 0;
  if (backing) {
    const name = Buffer.from(backing.file, 'utf8');
    if (name.length > 1023) throw new DriverError('invalid-spec', 'backing file name longer than 1023 bytes');
    backingOffset = extAt;
    backingSize = name.length;
    name.copy(buf, backingOffset);
  }
  buf.writeUInt32BE(QCOW2_MAGIC, 0);
  buf.writeUInt32BE(3, 4); // version
  buf.writeBigUInt64BE(BigInt(backingOffset), 8);
  buf.writeUInt32BE(backingSize, 16);
  buf.writeUInt32BE(CLUSTER_BITS, 20);
  buf.writeBigUInt64BE(BigInt(virtualSize), 24);
  buf.writeUInt32BE(0, 32); // no encryption
  buf.writeUInt32BE(l1Size, 36);
  buf.writeBigUInt64BE(BigInt(l1TableOffset), 40);
  buf.writeBigUInt64BE(BigInt(refcountTableOffset), 48);
  buf.writeUInt32BE(1, 56); // refcount table clusters
  buf.writeUInt32BE(0, 60); // snapshots
  buf.writeBigUInt64BE(0n, 64);
  buf.writeBigUInt64BE(0n, 72); // incompatible features
  buf.writeBigUInt64BE(0n, 80); // compatible features
  buf.writeBigUInt64BE(0n, 88); // autoclear features
  buf.writeUInt32BE(4, 96); // refcount order: 16-bit refcounts
  buf.writeUInt32BE(HEADER_LENGTH, 100);
  // Refcount table → the one refcount block; the block counts every cluster in use once.
  buf.writeBigUInt64BE(BigInt(refcountBlockOffset), refcountTableOffset);
  for (let c = 0; c < totalClusters; c++) buf.writeUInt16BE(1, refcountBlockOffset + 2 * c);
  return buf;
}

export function parseQcow2Header(buf: Buffer): Qcow2Header {
  if (buf.length < 72 || buf.readUInt32BE(0) !== QCOW2_MAGIC) throw new DriverError('invalid-spec', 'not a qcow2 image');
  const version = buf.readUInt32BE(4);
  const backingOffset = Number(buf.readBigUInt64BE(8));
  const backingSize = buf.readUInt32BE(16);
  const h: Qcow2Header = {
    version,
    clusterBits: buf.readUInt32BE(20),
    virtualSize: Number(buf.readBigUInt64BE(24)),
    l1Size: buf.readUInt32BE(36),
    l1TableOffset: Number(buf.readBigUInt64BE(40)),
    refcountTableOffset: Number(buf.readBigUInt64BE(48)),
  };
  if (backingOffset > 0) h.backingFile = buf.subarray(backingOffset, backingOffset + backingSize).toString('utf8');
  if (version >= 3) {
    let at = buf.readUInt32BE(100);
    while (at + 8 <= buf.length) {
      const type = buf.readUInt32BE(at);
      const len = buf.readUInt32BE(at + 4);
      if (type === 0) break;
      if (type === EXT_BACKING_FORMAT) h.backingFormat = buf.subarray(at + 8, at + 8 + len).toString('ascii');
      at += 8 + pad8(len);
    }
  }
  return h;
}

export async function readQcow2Header(path: string): Promise<Qcow2Header> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(CLUSTER);
    await fh.read(buf, 0, CLUSTER, 0);
    return parseQcow2Header(buf);
  } finally { await fh.close(); }
}

/** `auto`: qemu-img when installed, else the built-in writer. */
export type DiskTool = 'auto' | 'qemu-img' | 'builtin';

export function inferFormat(path: string, format?: DiskFormat): DiskFormat {
  return format ?? (/\.qcow2$/i.test(path) ? 'qcow2' : 'raw');
}

async function qemuImg(tool: DiskTool): Promise<string | undefined> {
  if (tool === 'builtin') return undefined;
  const q = await which('qemu-img');
  if (!q && tool === 'qemu-img') throw new DriverError('unreachable', 'qemu-img is not installed');
  return q;
}

/** Creates a qcow2 overlay at `path` over `backing`, of `virtualSize` bytes (at least the backing image's size). */
export async function createOverlay(path: string, backing: string, backingFormat: DiskFormat, virtualSize: number, tool: DiskTool = 'auto'): Promise<'qemu-img' | 'builtin'> {
  const q = await qemuImg(tool);
  if (q) {
    const r = await execTool(q, ['create', '-q', '-f', 'qcow2', '-F', backingFormat, '-b', backing, path, String(virtualSize)], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new DriverError('command-failed', `qemu-img create failed: ${r.stderr.trim()}`);
    return 'qemu-img';
  }
  await stat(backing).catch(() => { throw new DriverError('not-found', `image ${backing} does not exist`); });
  const fh = await open(path, 'wx');
  try { await fh.writeFile(qcow2Bytes(virtualSize, { file: backing, format: backingFormat })); } finally { await fh.close(); }
  return 'builtin';
}

/** Creates an empty image (used for base images in tests and blank disks). */
export async function createBlankImage(path: string, format: DiskFormat, virtualSize: number, tool: DiskTool = 'auto'): Promise<void> {
  if (format === 'raw') {
    const fh = await open(path, 'wx');
    await fh.close();
    await truncate(path, virtualSize);
    return;
  }
  const q = await qemuImg(tool);
  if (q) {
    const r = await execTool(q, ['create', '-q', '-f', 'qcow2', path, String(virtualSize)], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new DriverError('command-failed', `qemu-img create failed: ${r.stderr.trim()}`);
    return;
  }
  const fh = await open(path, 'wx');
  try { await fh.writeFile(qcow2Bytes(virtualSize)); } finally { await fh.close(); }
}

/** Full private copy of an image (reflinked where the filesystem can), grown to `virtualSize` when larger. */
export async function copyImage(src: string, dest: string, format: DiskFormat, virtualSize: number, tool: DiskTool = 'auto'): Promise<void> {
  await copyFile(src, dest, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
  if (format === 'raw') {
    const { size } = await stat(dest);
    if (size < virtualSize) await truncate(dest, virtualSize);
    return;
  }
  const q = await qemuImg(tool);
  if (q) {
    const info = await execTool(q, ['info', '--output=json', '-f', 'qcow2', dest], { timeoutMs: 30_000 });
    const current = info.code === 0 ? Number((JSON.parse(info.stdout) as { 'virtual-size'?: number })['virtual-size'] ?? 0) : 0;
    if (current < virtualSize) {
      const r = await execTool(q, ['resize', '-q', '-f', 'qcow2', dest, String(virtualSize)], { timeoutMs: 60_000 });
      if (r.code !== 0) throw new DriverError('command-failed', `qemu-img resize failed: ${r.stderr.trim()}`);
    }
  }
  // Without qemu-img a copied qcow2 keeps its own virtual size; the guest sees the template's disk size.
}
