/**
 * End to end with real containers: SliceXNode appended through ledger.execute with the Host decider → relay → NATS
 * (real nats-server) → agent → OCI driver → `runc run` → report through the command gateway → the ledger says
 * `running`. Then power off and release, each confirmed by runc. Skipped (with a passing note) without runc/busybox.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../layers/resources/index.ts';
import { hostDecider } from '../layers/resources/host/decider.ts';
import { loadConfig } from '../core/config.ts';
import { openLedger, type Ledger } from '../core/ledger.ts';
import { connectNatsBus } from '../core/bus/nats.ts';
import type { Bus } from '../core/bus/port.ts';
import { OciDriver } from '../host-agent/drivers/oci.ts';
import { makeBusyboxRootfs, findBusybox } from '../host-agent/drivers/busybox-rootfs.ts';
import { execTool, which } from '../host-agent/drivers/exec.ts';
import { startAgent, type Agent } from '../host-agent/agent.ts';
import { startCommandGateway, type CommandGateway } from '../host-agent/gateway.ts';
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts';

const guard = setTimeout(() => { console.error('agent-oci.test.ts: over 55 s, aborting'); process.exit(1); }, 55_000);
guard.unref();
const HOST = 'h_oci1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) { if (await fn().catch(() => false)) return; await sleep(50); }
  throw new Error(`timed out waiting for ${what}`);
}
const canRun = !!(await which('runc')) && !!(await findBusybox()) && process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), 'ledger-agent-oci-'));
let nats: NatsServerHandle | undefined;
let ledger: Ledger | undefined;
let gateway: CommandGateway | undefined;
let bus: Bus | undefined;
let agent: Agent | undefined;
let driver: OciDriver | undefined;

test.after(async () => {
  await agent?.close({ closeDriver: false }).catch(() => {});
  for (const id of ['xn_c1']) await driver?.destroy(id).catch(() => {});
  await driver?.close().catch(() => {});
  await bus?.close().catch(() => {});
  await gateway?.close().catch(() => {});
  await ledger?.close().catch(() => {});
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('XNodeSliced → relay → NATS → agent → runc container running → report → ledger running; off; released', async () => {
  if (!canRun) { console.log('  (runc, busybox or root missing: end-to-end container test not run)'); return; }
  const image = join(dir, 'image');
  await makeBusyboxRootfs(image);
  nats = await startNatsServer();
  ledger = await openLedger(loadConfig({ LEDGER_DATA_DIR: join(dir, 'data'), LEDGER_NATS_URL: nats.url } as NodeJS.ProcessEnv), { bus: true, relay: true, project: false, role: 'test' });
  gateway = await startCommandGateway(ledger, { log: () => {} });
  bus = await connectNatsBus({ servers: nats.url, name: 'agent-oci', log: () => {} });
  const runcRoot = join(dir, 'oci', 'runc');
  driver = new OciDriver({ stateDir: join(dir, 'oci'), runcRoot, cgroupParent: 'ledger-agent-test', stopTimeoutMs: 1_000 });
  agent = await startAgent({ hostId: HOST, driver, bus, stateDir: join(dir, 'agent'), defaultImage: { name: 'busybox', path: image, boot: 'overlay' }, command: ['sleep', '3600'], heartbeatIntervalMs: 500, log: () => {} });
  const actor = { kind: 'operator' as const, id: 'test' };
  const exec = (type: string, data: Record<string, unknown>) => ledger!.execute(hostDecider, `Host-${HOST}`, { type, data } as never, { actor });
  const state = async () => (await ledger!.load(hostDecider, `Host-${HOST}`)).state.slices.xn_c1;
  await exec('RegisterHost', { hostId: HOST, zoneId: 'z_a', regionId: 'r_eu', name: 'oci one', type: 'CM', area: 'dc1/r1', resources: { cpuCores: 8, cpuMHz: 16_000, ramMiB: 16_384, diskGiB: 100, diskIops: 10_000 } });
  await exec('SliceXNode', { hostId: HOST, xnodeId: 'xn_c1', size: { cpuCores: 1, ramMiB: 64, diskGiB: 1 } });
  await until('ledger running', async () => (await state())?.state === 'running');
  const list = JSON.parse((await execTool('runc', ['--root', runcRoot, 'list', '--format', 'json'])).stdout || '[]') as Array<{ id: string; status: string }>;
  assert.equal(list.find((c) => c.id === 'xn_c1')?.status, 'running', 'runc runs the container');
  assert.is((await state())!.observed?.state, 'running');

  await exec('PowerOffXNode', { hostId: HOST, xnodeId: 'xn_c1' });
  await until('ledger observed stopped', async () => (await state())?.observed?.state === 'stopped');
  assert.is(await driver.status('xn_c1'), 'stopped');

  await exec('ReleaseXNode', { hostId: HOST, xnodeId: 'xn_c1' });
  await until('container gone', async () => (await driver!.status('xn_c1')) === 'absent');
  await until('ledger observed absent', async () => (await state())?.observed?.state === 'absent');
});

test.run();
