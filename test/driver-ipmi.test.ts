/**
 * IPMI driver and out-of-band fencing against OpenIPMI's ipmi_sim on a free loopback UDP port, driven over
 * RMCP+ (lanplus) by ipmitool. The simulated machine's power state is read from the sim's chassis control file.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IpmiDriver, fence, powerStatus, type IpmiEndpoint } from '../host-agent/drivers/ipmi.ts';
import { which } from '../host-agent/drivers/exec.ts';
import { DriverError, type SliceSpecInput } from '../host-agent/drivers/port.ts';
import { startIpmiSim, freeUdpPort, type IpmiSim } from './harness/ipmi-sim.ts';

const guard = setTimeout(() => { console.error('driver-ipmi.test.ts: over 55 s, aborting'); process.exit(1); }, 55_000);
guard.unref();

const bnode = (id: string, extra: Partial<SliceSpecInput> = {}): SliceSpecInput => ({
  id, kind: 'BNode', cpuCores: 32, ramMiB: 131072, diskGiB: 960, ...extra,
});

async function code(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (e) { assert.instance(e, DriverError, String(e)); return (e as DriverError).code; }
  return 'no error';
}

test('bad BMC parameters are refused before anything is run', async () => {
  assert.is(await code(powerStatus({ host: 'bmc; rm -rf /', user: 'u', password: 'p' })), 'invalid-spec');
  assert.is(await code(powerStatus({ host: '127.0.0.1', user: '', password: 'p' })), 'invalid-spec');
});

const missing = [(await which('ipmi_sim')) ? '' : 'ipmi_sim (Debian package openipmi)', (await which('ipmitool')) ? '' : 'ipmitool (Debian package ipmitool)'].filter(Boolean);
if (missing.length) console.log(`SKIPPED: ipmi driver integration (${missing.join(' and ')} not installed)`);

if (!missing.length) {
  let sim: IpmiSim;
  let bmc: IpmiEndpoint;
  let dir: string;
  let d: IpmiDriver;

  test.before(async () => {
    sim = await startIpmiSim({ initialPower: 'off' });
    bmc = { host: sim.host, port: sim.port, user: sim.user, password: sim.password };
    dir = await mkdtemp(join(tmpdir(), 'ledger-ipmi-test-'));
    d = new IpmiDriver({ bmc, stateFile: join(dir, 'bnode.json'), softOffTimeoutMs: 1500, confirmTimeoutMs: 5000 });
  });

  test.after(async () => {
    await sim?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the harness BMC answers over RMCP+ on a loopback port and its power is observable', async () => {
    assert.ok(sim.port > 0);
    assert.is(await powerStatus(bmc), 'off');
    await sim.setPower('on');
    assert.is(await powerStatus(bmc), 'on', 'ipmi_sim reads the power from its chassis control program');
    await sim.setPower('off');
    assert.is(await code(powerStatus({ ...bmc, password: 'not-the-password' })), 'unreachable', 'wrong credentials: no session');
  });

  test('create records the slice; start powers the machine on; both idempotent', async () => {
    assert.is(await d.create(bnode('b_1')), 'stopped');
    assert.is(await d.create(bnode('b_1')), 'stopped');
    assert.is(await code(d.create(bnode('b_2'))), 'conflict', 'one BNode per machine');
    assert.is(await code(d.create(bnode('b_1', { ramMiB: 65536 }))), 'conflict');
    assert.is(await d.start('b_1'), 'running');
    assert.is(await sim.power(), 'on');
    const setsBefore = (await sim.calls()).filter((c) => c.includes('set')).length;
    assert.is(await d.start('b_1'), 'running');
    assert.is((await sim.calls()).filter((c) => c.includes('set')).length, setsBefore, 'a second start sent no power command');
    assert.ok((await sim.calls()).includes('0x20 set power 1'));
  });

  test('stop: soft (ACPI) power-off when the OS honours it, hard off after the grace time when not', async () => {
    assert.is(await d.stop('b_1'), 'stopped');
    assert.is(await sim.power(), 'off');
    let calls = await sim.calls();
    assert.is(calls.filter((c) => c === '0x20 set shutdown 1').length, 1, 'a soft off was asked for');
    assert.is(await d.stop('b_1'), 'stopped', 'stop twice: no-op');

    await d.start('b_1');
    await sim.setHonourSoftOff(false);
    const t0 = performance.now();
    assert.is(await d.stop('b_1'), 'stopped');
    const took = performance.now() - t0;
    assert.ok(took >= 1400, `waited the grace time before pulling the plug (${took} ms)`);
    calls = await sim.calls();
    assert.is(calls[calls.length - 1 - calls.slice().reverse().findIndex((c) => c.includes('set'))], '0x20 set power 0', 'then a hard off');
    await sim.setHonourSoftOff(true);

    await d.start('b_1');
    const t1 = performance.now();
    assert.is(await d.stop('b_1', { force: true }), 'stopped');
    assert.ok(performance.now() - t1 < 1400, 'force: straight to hard off');
  });

  test('status and list follow the real power state, also when it changes behind the driver', async () => {
    assert.is(await d.status('b_1'), 'stopped');
    await sim.setPower('on');
    assert.is(await d.status('b_1'), 'running');
    const [s] = await d.list();
    assert.equal(s, { id: 'b_1', state: 'running', managed: true, kind: 'BNode', detail: 'chassis power on' });
    const load = await d.load();
    assert.is(load.host.power, 'on');
    assert.is(load.simulated, false);
    assert.is(await d.status('b_other'), 'absent');
  });

  test('power cycle: off then on again; from off just on', async () => {
    assert.is(await d.cycle('b_1'), 'running');
    assert.ok((await sim.calls()).some((c) => c === '0x20 set power 0'));
    assert.is(await sim.power(), 'on');
    await sim.setPower('off');
    assert.is(await d.cycle('b_1'), 'running');
    assert.is(await sim.power(), 'on');
  });

  test('bare metal cannot hibernate: a clear unsupported error, state unchanged', async () => {
    assert.is(await code(d.hibernate('b_1')), 'unsupported');
    assert.is(await sim.power(), 'on');
    assert.is(await d.resume('b_1'), 'running', 'resume of a running machine is a no-op');
    assert.is(await code(d.start('b_zz')), 'not-found');
  });

  test('fence(): out-of-band power-off, confirmed by reading the BMC back; already off is fine', async () => {
    assert.is(await sim.power(), 'on');
    await sim.setHonourSoftOff(false); // a hung OS: fencing must not depend on it
    const r = await fence(bmc);
    assert.is(r.confirmedOff, true);
    assert.is(r.wasOff, false);
    assert.is(await sim.power(), 'off');
    const again = await fence(bmc);
    assert.is(again.wasOff, true);
    await sim.setHonourSoftOff(true);
  });

  test('fence() of a BMC that does not answer throws: the host must not be assumed dead', async () => {
    const port = await freeUdpPort();
    const t0 = performance.now();
    const c = await code(fence({ host: '127.0.0.1', port, user: 'x', password: 'y', timeoutSec: 1, retries: 1 }, { attempts: 1, timeoutMs: 2000 }));
    assert.is(c, 'unreachable');
    assert.ok(performance.now() - t0 < 10_000, `gave up after ${performance.now() - t0} ms`);
  });

  test('destroy powers off and forgets the slice; twice is a no-op', async () => {
    await d.start('b_1');
    assert.is(await d.destroy('b_1'), 'absent');
    assert.is(await sim.power(), 'off');
    assert.is(await d.destroy('b_1'), 'absent');
    assert.equal(await d.list(), []);
    assert.is(await d.create(bnode('b_2')), 'stopped', 'the machine is free for another slice');
    assert.is(await d.destroy('b_2'), 'absent');
  });
}

test.run();
