/**
 * Test harness for the libvirt driver: writes a node description for libvirt's built-in test driver, one per
 * simulated host, and gives its `test:///<file>` URI. The test driver starts from this file on every new
 * connection, so a test talks to it through one long-lived virsh session (see host-agent/drivers/virsh.ts).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestNodeOptions {
  cpus?: number;
  mhz?: number;
  memoryMiB?: number;
  /** Virtual networks the node offers (name → bridge). */
  networks?: Record<string, string>;
}

export interface TestNode {
  uri: string;
  dir: string;
  /** Directory for the slices' disks. */
  diskDir: string;
  cleanup(): Promise<void>;
}

export async function writeTestNode(name: string, opts: TestNodeOptions = {}): Promise<TestNode> {
  const dir = await mkdtemp(join(tmpdir(), `ledger-libvirt-${name}-`));
  const cpus = opts.cpus ?? 8;
  const networks = opts.networks ?? { ledger_net: 'virbr_ledger' };
  const xml = [
    '<node>',
    '  <cpu>',
    `    <mhz>${opts.mhz ?? 2400}</mhz>`,
    '    <model>x86_64</model>',
    `    <active>${cpus}</active>`,
    `    <total>${cpus}</total>`,
    '    <nodes>1</nodes>',
    '    <sockets>1</sockets>',
    `    <cores>${cpus}</cores>`,
    '    <threads>1</threads>',
    '  </cpu>',
    `  <memory>${(opts.memoryMiB ?? 16384) * 1024}</memory>`,
    ...Object.entries(networks).flatMap(([net, bridge], i) => [
      '  <network>',
      `    <name>${net}</name>`,
      `    <bridge name='${bridge}'/>`,
      `    <forward/>`,
      `    <ip address='192.0.2.${1 + i * 64}' netmask='255.255.255.192'/>`,
      '  </network>',
    ]),
    '</node>',
    '',
  ].join('\n');
  const file = join(dir, 'node.xml');
  await writeFile(file, xml);
  const diskDir = join(dir, 'disks');
  return { uri: `test://${file}`, dir, diskDir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
