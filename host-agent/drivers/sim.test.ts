import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimDriver } from './sim.ts';
import { createDriver } from './index.ts';
import { DriverError, parseSliceSpec, specHash, type SliceSpecInput } from './port.ts';

const spec = (id: string, extra: Partial<SliceSpecInput> = {}): SliceSpecInput => ({
  id, kind: 'CNode', cpuCores: 2, ramMiB: 1024, diskGiB: 10,
  image: { name: 'busybox', path: '/var/lib/images/busybox' }, ...extra,
});

async function rejects(p: Promise<unknown>, code: string): Promise<DriverError> {
  try { await p; } catch (e) {
    assert.instance(e, DriverError);
    assert.is((e as DriverError).code, code);
    return e as DriverError;
  }
  assert.unreachable(`expected a DriverError ${code}`);
  throw new Error('unreachable');
}

test('lifecycle: every operation is idempotent and reports the state it leaves', async () => {
  const d = new SimDriver();
  assert.is(await d.status('s_1'), 'absent');
  assert.is(await d.create(spec('s_1')), 'stopped');
  assert.is(await d.create(spec('s_1')), 'stopped');
  assert.is(d.calls.create, 1, 'the second create changed nothing');
  assert.is(await d.start('s_1'), 'running');
  assert.is(await d.start('s_1'), 'running');
  assert.is(d.calls.start, 1);
  assert.is(await d.hibernate('s_1'), 'hibernated');
  assert.is(await d.hibernate('s_1'), 'hibernated');
  assert.is(await d.resume('s_1'), 'running');
  assert.is(await d.resume('s_1'), 'running');
  assert.is(await d.stop('s_1'), 'stopped');
  assert.is(await d.stop('s_1', { force: true }), 'stopped');
  assert.is(d.calls.stop, 1);
  assert.is(await d.destroy('s_1'), 'absent');
  assert.is(await d.destroy('s_1'), 'absent');
  assert.is(await d.stop('s_1'), 'absent');
  assert.is(d.calls.destroy, 1);
});

test('start from hibernated resumes; stop from hibernated discards the saved state', async () => {
  const d = new SimDriver();
  await d.create(spec('s_2'));
  await d.start('s_2');
  await d.hibernate('s_2');
  assert.is(await d.start('s_2'), 'running');
  await d.hibernate('s_2');
  assert.is(await d.stop('s_2'), 'stopped');
});

test('invalid transitions and unknown slices are refused with clear codes', async () => {
  const d = new SimDriver();
  await d.create(spec('s_3'));
  await rejects(d.hibernate('s_3'), 'invalid-state');
  await rejects(d.resume('s_3'), 'invalid-state');
  await rejects(d.start('nope'), 'not-found');
  await rejects(d.start('bad-id'), 'invalid-spec');
  const e = await rejects(d.create(spec('s_3', { cpuCores: 4 })), 'conflict');
  assert.match(e.message, /simulated/);
  await rejects(d.create({ id: 's_4', kind: 'CNode', cpuCores: 0, ramMiB: 1, diskGiB: 1 }), 'invalid-spec');
});

test('a new fencing token for the same spec is recorded, not a conflict', async () => {
  const d = new SimDriver();
  await d.create(spec('s_5', { fencing: { componentId: 'c_1', replica: 0, epoch: 1 } }));
  await d.create(spec('s_5', { fencing: { componentId: 'c_1', replica: 0, epoch: 2 } }));
  const [s] = await d.list();
  assert.equal(s!.fencing, { componentId: 'c_1', replica: 0, epoch: 2 });
});

test('everything it reports says it is simulated', async () => {
  const d = new SimDriver({ hostId: 'demo_h1' });
  assert.is(d.kind, 'sim');
  assert.is(d.simulated, true);
  await d.create(spec('s_6'));
  await d.start('s_6');
  const list = await d.list();
  assert.is(list.length, 1);
  assert.is(list[0]!.simulated, true);
  assert.match(list[0]!.detail!, /^\[simulated demo_h1\]/);
  const load = await d.load();
  assert.is(load.simulated, true);
  assert.is(load.driver, 'sim');
});

test('start latency is applied (fixed and per operation)', async () => {
  const d = new SimDriver({ latencyMs: { start: 60 } });
  await d.create(spec('s_7'));
  const t0 = performance.now();
  await d.start('s_7');
  const took = performance.now() - t0;
  assert.ok(took >= 55, `start took ${took} ms`);
  const t1 = performance.now();
  await d.stop('s_7');
  assert.ok(performance.now() - t1 < 50, 'stop has no latency configured');
  const r = new SimDriver({ latencyMs: { min: 5, max: 15 }, seed: 7 });
  await r.create(spec('s_8'));
  const t2 = performance.now();
  await r.start('s_8');
  assert.ok(performance.now() - t2 >= 4);
});

test('injected failures: the next N calls fail, then calls succeed; fail-slice leaves the slice failed', async () => {
  const d = new SimDriver();
  await d.create(spec('s_9'));
  d.injectFailure({ op: 'start', times: 2, message: 'no hypervisor' });
  const e = await rejects(d.start('s_9'), 'injected-failure');
  assert.match(e.message, /no hypervisor/);
  assert.match(e.message, /simulated/);
  await rejects(d.start('s_9'), 'injected-failure');
  assert.is(await d.status('s_9'), 'stopped', 'a plain injected error changes nothing');
  assert.is(await d.start('s_9'), 'running');

  d.injectFailure({ op: '*', id: 's_9', mode: 'fail-slice', message: 'disk died' });
  await rejects(d.hibernate('s_9'), 'injected-failure');
  assert.is(await d.status('s_9'), 'failed');
  assert.is(await d.start('s_9'), 'running', 'a failed slice can be started again');
});

test('crash() makes a running slice fail on its own; stop of a failed slice reports failed', async () => {
  const d = new SimDriver();
  await d.create(spec('s_10'));
  await d.start('s_10');
  assert.is(await d.crash('s_10'), 'failed');
  assert.is(await d.stop('s_10'), 'failed');
});

test('random failure rate is seeded: the same seed fails the same calls', async () => {
  const run = async () => {
    const d = new SimDriver({ failureRate: 0.5, seed: 42 });
    const out: string[] = [];
    for (let i = 0; i < 20; i++) {
      try { await d.create(spec(`r_${i}`)); out.push('ok'); } catch { out.push('fail'); }
    }
    return out;
  };
  const a = await run();
  const b = await run();
  assert.equal(a, b);
  assert.ok(a.includes('ok') && a.includes('fail'), a.join(','));
  assert.throws(() => new SimDriver({ failureRate: 2 }));
});

test('load figures follow the slices: running slices use CPU and RAM, hibernated ones only disk', async () => {
  let now = 1_000_000;
  const d = new SimDriver({ now: () => now, utilisation: 0.5, capacity: { cpuCores: 16, ramMiB: 65536, diskGiB: 1000 } });
  await d.create(spec('a_1'));
  await d.create(spec('a_2'));
  await d.start('a_1');
  await d.start('a_2');
  now += 10_000;
  await d.hibernate('a_2');
  const load = await d.load();
  assert.is(load.host.cpuCores, 16);
  assert.is(load.host.ramUsedMiB, 512, 'only a_1 holds RAM');
  assert.is(load.host.diskUsedGiB, 20);
  const a1 = load.slices.find((s) => s.id === 'a_1')!;
  const a2 = load.slices.find((s) => s.id === 'a_2')!;
  assert.is(a1.cpuTimeMs, 10_000);
  assert.is(a2.cpuTimeMs, 10_000);
  assert.is(a2.ramUsedMiB, 0);
  assert.is(a2.state, 'hibernated');
});

test('persistence: state survives a new driver on the same file, which is labelled simulated', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ledger-sim-'));
  try {
    const file = join(dir, 'sim-host.json');
    const d1 = new SimDriver({ persistFile: file });
    await d1.create(spec('p_1'));
    await d1.start('p_1');
    await d1.create(spec('p_2'));
    await Promise.all(Array.from({ length: 20 }, (_, i) => d1.create(spec(`q_${i}`))));
    await d1.close();
    const raw = JSON.parse(await readFile(file, 'utf8')) as { simulated: boolean; note: string; slices: unknown[] };
    assert.is(raw.simulated, true);
    assert.match(raw.note, /SIMULATED/);
    assert.is(raw.slices.length, 22);
    const d2 = new SimDriver({ persistFile: file });
    assert.is(await d2.status('p_1'), 'running');
    assert.is(await d2.status('p_2'), 'stopped');
    assert.is((await d2.list()).length, 22);
    await d2.destroy('p_2');
    await d2.close();
    const d3 = new SimDriver({ persistFile: file });
    assert.is(await d3.status('p_2'), 'absent');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('SliceSpec validation names each wrong field; spec hash ignores the fencing token', () => {
  try {
    parseSliceSpec({ id: 'x-1', kind: 'VNode', cpuCores: 1, ramMiB: 512, diskGiB: 1, interfaces: [{ type: 'netns' }] });
    assert.unreachable();
  } catch (e) {
    assert.instance(e, DriverError);
    const m = (e as Error).message;
    assert.match(m, /^invalid slice spec: /);
    assert.match(m, /id: slice id must match/);
    assert.match(m, /image: a VNode needs an image/);
    assert.match(m, /interfaces\.0\.type/);
  }
  assert.throws(() => parseSliceSpec(spec('ok_1', { image: { name: 'x', path: 'relative/path' } })), /absolute path/);
  assert.throws(() => parseSliceSpec(spec('ok_1', { image: { name: 'x', path: '/a,b' } })), /path may only hold/);
  assert.throws(() => parseSliceSpec(spec('ok_1'), 'VNode'), /runs VNodes, not CNodes/);
  const a = parseSliceSpec(spec('h_1', { fencing: { componentId: 'c', replica: 0, epoch: 1 } }));
  const b = parseSliceSpec(spec('h_1', { fencing: { componentId: 'c', replica: 0, epoch: 9 } }));
  assert.is(specHash(a), specHash(b));
  assert.is.not(specHash(a), specHash(parseSliceSpec(spec('h_1', { ramMiB: 2048 }))));
  assert.is(a.image!.boot, 'overlay', 'template boot is the default');
});

test('createDriver builds the configured driver and names each wrong field', async () => {
  const d = createDriver({ driver: 'sim', hostId: 'demo_1', latencyMs: { start: 1 } });
  assert.is(d.kind, 'sim');
  assert.is(d.simulated, true);
  assert.is(await d.create(spec('f_1')), 'stopped');
  assert.is(createDriver({ driver: 'oci', stateDir: '/var/lib/ledger/oci' }).kind, 'oci');
  assert.is(createDriver({ driver: 'libvirt', uri: 'qemu:///system', diskDir: '/var/lib/ledger/disks' }).kind, 'libvirt');
  assert.is(createDriver({ driver: 'ipmi', bmc: { host: '10.0.0.5', user: 'admin', password: 'x' }, stateFile: '/var/lib/ledger/bnode.json' }).simulated, false);
  assert.throws(() => createDriver({ driver: 'oci', stateDir: 'relative' }), /stateDir: must be an absolute path/);
  assert.throws(() => createDriver({ driver: 'kvm' }), /invalid driver configuration/);
  assert.throws(() => createDriver({ driver: 'sim', failureRate: 3 }), /failureRate/);
});

test.run();
