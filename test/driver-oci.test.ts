/**
 * OCI driver against the real runc: busybox-static root filesystems, containers really started, paused, resumed,
 * killed and deleted, limits read back from the containers' cgroups. A dedicated `--root` keeps them apart.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OciDriver } from '../host-agent/drivers/oci.ts';
import { benchOciStarts } from '../host-agent/drivers/oci-bench.ts';
import { ociConfig, limitsFor } from '../host-agent/drivers/oci-spec.ts';
import { makeBusyboxRootfs, findBusybox } from '../host-agent/drivers/busybox-rootfs.ts';
import { execDetached, execTool, which, waitFor } from '../host-agent/drivers/exec.ts';
import { DriverError, parseSliceSpec, type SliceSpecInput } from '../host-agent/drivers/port.ts';

const guard = setTimeout(() => { console.error('driver-oci.test.ts: over 55 s, aborting'); process.exit(1); }, 55_000);
guard.unref();

const cnode = (id: string, image: string, extra: Partial<SliceSpecInput> = {}): SliceSpecInput => ({
  id, kind: 'CNode', cpuCores: 1, ramMiB: 64, diskGiB: 1,
  image: { name: 'busybox', path: image, boot: 'overlay' },
  command: ['sleep', '3600'],
  pidsLimit: 64,
  ...extra,
});

test('config.json limits and namespaces come from the slice', () => {
  const spec = parseSliceSpec(cnode('u_1', '/images/busybox', { cpuCores: 3, ramMiB: 256, pidsLimit: 100, interfaces: [{ type: 'netns', source: '/var/run/netns/t_1' }], fencing: { componentId: 'c_2', replica: 1, epoch: 7 } }));
  const cfg = ociConfig(spec, { cgroupsPath: '/resource-ledger/u_1' }) as {
    process: { args: string[]; terminal: boolean };
    linux: { cgroupsPath: string; resources: { memory: { limit: number }; cpu: { quota: number; period: number }; pids: { limit: number } }; namespaces: Array<{ type: string; path?: string }> };
    annotations: Record<string, string>;
  };
  assert.equal(cfg.process.args, ['sleep', '3600']);
  assert.is(cfg.process.terminal, false);
  assert.is(cfg.linux.resources.memory.limit, 256 * 1024 * 1024);
  assert.is(cfg.linux.resources.cpu.quota, 300_000);
  assert.is(cfg.linux.resources.cpu.period, 100_000);
  assert.is(cfg.linux.resources.pids.limit, 100);
  assert.equal(cfg.linux.namespaces.find((n) => n.type === 'network'), { type: 'network', path: '/var/run/netns/t_1' });
  assert.is(cfg.annotations['org.resource-ledger.fencing.epoch'], '7');
  const host = ociConfig(parseSliceSpec(cnode('u_2', '/images/busybox', { interfaces: [{ type: 'host' }] })), { cgroupsPath: '/x/u_2' }) as { linux: { namespaces: Array<{ type: string }> } };
  assert.ok(!host.linux.namespaces.some((n) => n.type === 'network'), 'host networking: no network namespace');
  assert.is(limitsFor(parseSliceSpec(cnode('u_3', '/i'))).pids, 64);
});

// ------------------------------------------------------------------ can this sandbox run containers at all?
const runc = await which('runc');
const busybox = await findBusybox();
let skip: string | undefined;
if (!runc) skip = 'runc not installed (Debian package runc)';
else if (!busybox) skip = 'busybox not installed (Debian package busybox-static)';
else if (process.getuid?.() !== 0) skip = `runc needs root here (uid ${process.getuid?.()}; rootless runc would need cgroup delegation)`;
if (skip) console.log(`SKIPPED: oci driver integration (${skip})`);

if (!skip) {
  let dir: string;
  let image: string;
  let d: OciDriver;

  test.before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ledger-oci-test-'));
    image = join(dir, 'images', 'busybox');
    await makeBusyboxRootfs(image);
    d = new OciDriver({ stateDir: join(dir, 'state'), stopTimeoutMs: 3000 });
  });

  test.after(async () => {
    if (d) {
      for (const s of await d.list().catch(() => [])) await d.destroy(s.id).catch((e) => console.error('cleanup', s.id, e));
      const left = await execTool('runc', ['--root', d.runcRoot, 'list', '-q']).catch(() => undefined);
      if (left?.stdout.trim()) console.error('left-over containers:', left.stdout);
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const pidOf = async (id: string) => (await d.runcState(id))!.pid;

  test('create → start runs sleep 3600 in busybox for real, with the slice limits in its cgroups', async () => {
    assert.is(await d.create(cnode('c_1', image)), 'stopped');
    assert.is(await d.create(cnode('c_1', image)), 'stopped', 'create twice: no-op');
    const cfg = JSON.parse(await readFile(join(d.bundleDir('c_1'), 'config.json'), 'utf8')) as { root: { path: string } };
    assert.is(cfg.root.path, 'rootfs');
    assert.match(await readFile('/proc/self/mountinfo', 'utf8'), new RegExp(`${d.bundleDir('c_1')}/rootfs .* overlay`), 'template boot: overlay mounted');
    assert.is(await d.start('c_1'), 'running');
    assert.is(await d.start('c_1'), 'running', 'start twice: no-op');
    const pid = await pidOf('c_1');
    assert.is((await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean).join(' '), 'sleep 3600');
    const lim = await d.appliedLimits('c_1');
    assert.equal(lim, { memoryBytes: 64 * 1024 * 1024, cpuQuotaUs: 100_000, cpuPeriodUs: 100_000, pidsMax: 64 });
    assert.is(await pidOf('c_1'), pid, 'the second start did not restart it');
  });

  test('hibernate freezes the processes (runc pause), resume thaws them; both idempotent', async () => {
    assert.is(await d.hibernate('c_1'), 'hibernated');
    assert.is(await d.hibernate('c_1'), 'hibernated');
    assert.is((await d.runcState('c_1'))!.status, 'paused');
    const pid = await pidOf('c_1');
    const st = (await readFile(`/proc/${pid}/status`, 'utf8')).match(/^State:\s+(\S)/m)![1];
    assert.ok(st === 'D' || st === 'S', `frozen process state ${st}`);
    assert.is(await d.start('c_1'), 'running', 'start of a hibernated CNode resumes it');
    await d.hibernate('c_1');
    assert.is(await d.resume('c_1'), 'running');
    assert.is(await d.resume('c_1'), 'running');
    assert.is((await d.runcState('c_1'))!.status, 'running');
  });

  test('stop: SIGTERM, then SIGKILL after the grace time (sleep as PID 1 ignores TERM); force kills at once', async () => {
    const t0 = performance.now();
    assert.is(await d.stop('c_1', { timeoutMs: 300 }), 'stopped');
    const took = performance.now() - t0;
    assert.ok(took >= 250 && took < 5000, `took ${took} ms`);
    assert.is(await d.runcState('c_1'), undefined, 'container record deleted, bundle kept');
    assert.ok((await stat(join(d.bundleDir('c_1'), 'config.json'))).isFile());
    assert.is(await d.stop('c_1'), 'stopped', 'stop twice: no-op');
    assert.is(await d.start('c_1'), 'running', 'a stopped CNode starts again from its bundle');
    const t1 = performance.now();
    assert.is(await d.stop('c_1', { force: true }), 'stopped');
    assert.ok(performance.now() - t1 < 2000);
    await d.start('c_1');
    await d.hibernate('c_1');
    assert.is(await d.stop('c_1'), 'stopped', 'a hibernated (frozen) CNode can be stopped');
  });

  test('a process that handles TERM stops gracefully; its output lands in console.log', async () => {
    const spec = cnode('c_term', image, { command: ['sh', '-c', 'echo hello from $HOSTNAME; trap "echo bye; exit 0" TERM; while :; do sleep 0.1; done'] });
    await d.create(spec);
    assert.is(await d.start('c_term'), 'running');
    await waitFor(async () => (await readFile(join(d.bundleDir('c_term'), 'console.log'), 'utf8').catch(() => '')).includes('hello'), 3000, 50);
    const t0 = performance.now();
    assert.is(await d.stop('c_term', { timeoutMs: 5000 }), 'stopped');
    assert.ok(performance.now() - t0 < 2500, 'stopped well before the grace time');
    const log = await readFile(join(d.bundleDir('c_term'), 'console.log'), 'utf8');
    assert.match(log, /hello from c_term/);
    assert.match(log, /bye/);
    assert.is(await d.destroy('c_term'), 'absent');
  });

  test('a container that dies on its own is reported failed, not stopped; start brings it back', async () => {
    await d.start('c_1');
    const pid = await pidOf('c_1');
    process.kill(pid, 'SIGKILL');
    assert.ok(await waitFor(async () => (await d.runcState('c_1'))?.status === 'stopped', 3000, 50));
    assert.is(await d.status('c_1'), 'failed');
    const listed = (await d.list()).find((s) => s.id === 'c_1')!;
    assert.is(listed.state, 'failed');
    assert.is(await d.start('c_1'), 'running');
    assert.is.not(await pidOf('c_1'), pid);
  });

  test('errors: invalid transitions, unknown slices, another spec under the same id, bad specs', async () => {
    await d.create(cnode('c_idle', image));
    try { await d.hibernate('c_idle'); assert.unreachable(); } catch (e) { assert.is((e as DriverError).code, 'invalid-state'); }
    try { await d.resume('c_idle'); assert.unreachable(); } catch (e) { assert.is((e as DriverError).code, 'invalid-state'); }
    try { await d.start('c_nope'); assert.unreachable(); } catch (e) { assert.is((e as DriverError).code, 'not-found'); }
    try { await d.create(cnode('c_idle', image, { ramMiB: 128 })); assert.unreachable(); } catch (e) { assert.is((e as DriverError).code, 'conflict'); }
    try { await d.create(cnode('c_noimg', join(dir, 'no-such-image'))); assert.unreachable(); } catch (e) { assert.is((e as DriverError).code, 'not-found'); }
    try { await d.create({ ...cnode('c_vm', image), kind: 'VNode' }); assert.unreachable(); } catch (e) { assert.is((e as DriverError).code, 'invalid-spec'); }
    assert.is(await d.stop('c_nope'), 'absent');
    assert.is(await d.destroy('c_idle'), 'absent');
    // runc refuses to start it: the tool's own reason comes back, and the slice reads failed.
    await d.create(cnode('c_bad', image, { command: ['/no/such/binary'] }));
    try { await d.start('c_bad'); assert.unreachable(); } catch (e) {
      assert.is((e as DriverError).code, 'command-failed');
      assert.match((e as Error).message, /no such file|not found/i);
    }
    assert.is(await d.status('c_bad'), 'failed');
    assert.match((await d.list()).find((s) => s.id === 'c_bad')!.detail!, /last error/);
    assert.is(await d.destroy('c_bad'), 'absent');
  });

  test('full copy boot: a private rootfs; writes stay in the slice, the image is untouched', async () => {
    const spec = cnode('c_copy', image, { image: { name: 'busybox', path: image, boot: 'copy' }, command: ['sh', '-c', 'echo mine > /marker; exec sleep 3600'] });
    await d.create(spec);
    assert.is(await d.start('c_copy'), 'running');
    assert.ok(await waitFor(async () => stat(join(d.bundleDir('c_copy'), 'rootfs', 'marker')).then(() => true, () => false), 3000, 50));
    assert.is(await stat(join(image, 'marker')).then(() => true, () => false), false);
    // Overlay boot: the write lands in the slice's upper layer.
    const ov = cnode('c_ov', image, { command: ['sh', '-c', 'echo mine > /marker; exec sleep 3600'] });
    await d.create(ov);
    await d.start('c_ov');
    assert.ok(await waitFor(async () => stat(join(d.bundleDir('c_ov'), 'upper', 'marker')).then(() => true, () => false), 3000, 50));
    assert.is(await stat(join(image, 'marker')).then(() => true, () => false), false);
    assert.is(await d.destroy('c_copy'), 'absent');
    assert.is(await d.destroy('c_ov'), 'absent');
    assert.not.match(await readFile('/proc/self/mountinfo', 'utf8'), /c_ov\/rootfs/, 'overlay unmounted');
  });

  test('host networking and several containers at once; list and load see them all', async () => {
    await d.create(cnode('c_net', image, { interfaces: [{ type: 'host' }], fencing: { componentId: 'k_9', replica: 2, epoch: 11 } }));
    const ids = ['p_1', 'p_2', 'p_3', 'p_4'];
    await Promise.all(ids.map((id) => d.create(cnode(id, image))));
    const states = await Promise.all([...ids, 'c_net'].map((id) => d.start(id)));
    assert.equal(states, ['running', 'running', 'running', 'running', 'running']);
    const netns = async (pid: number) => (await execTool('readlink', [`/proc/${pid}/ns/net`])).stdout.trim();
    assert.is(await netns(await pidOf('c_net')), await netns(process.pid), 'shares the host network namespace');
    assert.is.not(await netns(await pidOf('p_1')), await netns(process.pid), 'default: own network namespace');
    // A container in the same runc root that the ledger did not make:
    const raw = join(dir, 'raw_bundle');
    await mkdir(raw);
    const cfg = JSON.parse(await readFile(join(d.bundleDir('p_1'), 'config.json'), 'utf8')) as Record<string, unknown> & { root: { path: string; readonly: boolean }; annotations: Record<string, string>; linux: { cgroupsPath: string } };
    cfg.root = { path: image, readonly: true };
    cfg.annotations = {};
    cfg.linux.cgroupsPath = '/ledger-test-raw/stray';
    await writeFile(join(raw, 'config.json'), JSON.stringify(cfg));
    assert.is(await execDetached('runc', ['--root', d.runcRoot, 'run', '-d', '--bundle', raw, 'stray'], { timeoutMs: 20_000 }), 0);
    try {
      const list = await d.list();
      const by = new Map(list.map((s) => [s.id, s]));
      for (const id of [...ids, 'c_1', 'c_net']) assert.is(by.get(id)!.state, 'running', id);
      assert.equal(by.get('c_net')!.fencing, { componentId: 'k_9', replica: 2, epoch: 11 });
      assert.is(by.get('stray')!.managed, false);
      assert.is(by.get('p_1')!.managed, true);
      const load = await d.load();
      assert.is(load.driver, 'oci');
      assert.is(load.simulated, false);
      assert.ok(load.host.cpuCores! >= 1 && load.host.ramMiB! > 0);
      const p1 = load.slices.find((s) => s.id === 'p_1')!;
      assert.is(p1.pids, 1);
      assert.ok(p1.ramUsedMiB! > 0 && p1.ramUsedMiB! < 64, `ram ${p1.ramUsedMiB}`);
      assert.is(p1.ramLimitMiB, 64);
      assert.ok(!load.slices.some((s) => s.id === 'stray'));
    } finally {
      await execTool('runc', ['--root', d.runcRoot, 'delete', '--force', 'stray']);
    }
    for (const id of [...ids, 'c_net']) assert.is(await d.destroy(id), 'absent');
  });

  test('destroy kills and removes everything; twice is a no-op', async () => {
    assert.is(await d.destroy('c_1'), 'absent');
    assert.is(await d.destroy('c_1'), 'absent');
    assert.is(await stat(d.bundleDir('c_1')).then(() => true, () => false), false);
    assert.equal(await d.list(), []);
  });

  test('oci-bench: N containers through the driver and N raw `runc run -d`, both timed, all removed after', async () => {
    const r = await benchOciStarts({ n: 2, image, workDir: join(dir, 'bench') });
    assert.is(r.n, 2);
    assert.ok(r.driver.startMs > 0 && r.raw.startMs > 0);
    assert.ok(Number.isFinite(r.ratioToRaw) && r.ratioToRaw > 0);
    assert.match(r.runcVersion, /runc/);
    const left = await execTool('runc', ['--root', join(dir, 'bench', 'raw', 'runc'), 'list', '-q']);
    assert.is(left.stdout.trim(), '');
    assert.not.match(await readFile('/proc/self/mountinfo', 'utf8'), /ledger-oci-test-[^ ]*\/bench\//);
  });

  test('a copied image tree with symlinks works as a rootfs source too', async () => {
    const img2 = join(dir, 'images', 'busybox-copy');
    await cp(image, img2, { recursive: true, verbatimSymlinks: true });
    await d.create(cnode('c_img2', img2, { command: ['true'] }));
    assert.is(await d.start('c_img2'), 'running');
    // `true` exits at once: the ledger wanted it running, nobody stopped it → failed.
    assert.ok(await waitFor(async () => (await d.status('c_img2')) === 'failed', 3000, 50));
    assert.is(await d.destroy('c_img2'), 'absent');
  });
}

test.run();
