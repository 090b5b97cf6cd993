/**
 * A minimal root filesystem from Debian's busybox-static: the static binary plus a link per applet. Used as the
 * CNode image in tests, demos and the driver benchmark.
 */
import { copyFile, mkdir, stat, symlink, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { execTool, which } from './exec.ts';
import { DriverError } from './port.ts';

export async function findBusybox(): Promise<string | undefined> {
  for (const p of ['/bin/busybox', '/usr/bin/busybox']) {
    try { if ((await stat(p)).isFile()) return p; } catch { /* next */ }
  }
  return which('busybox');
}

/** Builds the rootfs at `dir` (which must not exist yet or be empty). Returns the applets linked. */
export async function makeBusyboxRootfs(dir: string): Promise<string[]> {
  const bb = await findBusybox();
  if (!bb) throw new DriverError('unreachable', 'busybox is not installed (Debian package busybox-static)');
  const kind = await execTool('file', ['-b', bb]).catch(() => undefined);
  if (kind && kind.code === 0 && /dynamically linked/.test(kind.stdout)) {
    throw new DriverError('unreachable', `${bb} is dynamically linked; install busybox-static`);
  }
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'var/run']) {
    await mkdir(join(dir, d), { recursive: true });
  }
  await copyFile(bb, join(dir, 'bin/busybox'));
  await chmod(join(dir, 'bin/busybox'), 0o755);
  const list = await execTool(bb, ['--list-full']);
  const applets = list.code === 0
    ? list.stdout.split('\n').map((l) => l.trim()).filter(Boolean)
    : (await execTool(bb, ['--list'])).stdout.split('\n').map((l) => `bin/${l.trim()}`).filter((l) => l !== 'bin/');
  const linked: string[] = [];
  for (const rel of applets) {
    if (rel === 'bin/busybox') continue;
    const depth = rel.split('/').length - 1;
    try {
      await symlink(`${'../'.repeat(depth)}bin/busybox`, join(dir, rel));
      linked.push(rel);
    } catch { /* already there */ }
  }
  await writeFile(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(join(dir, 'etc/group'), 'root:x:0:\n');
  return linked;
}
