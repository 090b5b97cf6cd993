/**
 * Test harness: OpenIPMI's `ipmi_sim` as a BMC on a free loopback UDP port.
 *
 * It writes, in a temporary directory:
 *   lan.conf      the LAN interface (127.0.0.1:<port>, RMCP+), one admin user, and `chassis_control` pointing
 *                 at chassis.sh
 *   sim.emu       the emulator commands: one BMC management controller at 0x20
 *   chassis.sh    the chassis power control program ipmi_sim calls as `chassis.sh 0x20 get power` /
 *                 `chassis.sh 0x20 set power 1|0` / `set reset 1`; it keeps the power state in the file `power`
 *                 (1 = on, 0 = off) and logs every call to `calls.log`; a soft (ACPI) power-off, `set shutdown 1`,
 *                 powers off only while the file `honour-soft-off` exists (a guest OS that reacts to ACPI)
 * so the simulated machine's power state is observable (and changeable, as by a button press) from the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execTool, sleep } from '../../host-agent/drivers/exec.ts';

export interface IpmiSim {
  host: string;
  port: number;
  user: string;
  password: string;
  dir: string;
  pid: number;
  /** Power state as the simulated machine has it (read from the chassis control program's file). */
  power(): Promise<'on' | 'off'>;
  /** Changes the power state behind the BMC's back (a button press, a power loss). */
  setPower(state: 'on' | 'off'): Promise<void>;
  /** Makes the simulated OS honour (or ignore) soft power-off requests from now on. */
  setHonourSoftOff(on: boolean): Promise<void>;
  /** Every call ipmi_sim made to the chassis control program, e.g. `0x20 set power 0`. */
  calls(): Promise<string[]>;
  /** Stops ipmi_sim and removes its directory. */
  stop(): Promise<void>;
}

export interface IpmiSimOptions {
  user?: string;
  password?: string;
  initialPower?: 'on' | 'off';
  /** Whether the simulated OS powers off on a soft (ACPI) power-off request (default true). */
  honourSoftOff?: boolean;
}

/** A UDP port on 127.0.0.1 that nothing is bound to right now. */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const CHASSIS_SCRIPT = `#!/bin/sh
# Chassis power control for ipmi_sim: "$0 <mc> get <parm>..." or "$0 <mc> set <parm> <value>...".
here=$(dirname "$0")
echo "$*" >> "$here/calls.log"
shift
op=$1
shift
case "$op" in
get)
  for p in "$@"; do
    case "$p" in
      power) echo "power:$(cat "$here/power")" ;;
      boot) echo "boot:none" ;;
      *) echo "$p:0" ;;
    esac
  done ;;
set)
  while [ $# -ge 2 ]; do
    case "$1" in
      power) echo "$2" > "$here/power.tmp" && mv "$here/power.tmp" "$here/power" ;;
      shutdown) if [ "$2" = 1 ] && [ -f "$here/honour-soft-off" ]; then echo 0 > "$here/power.tmp" && mv "$here/power.tmp" "$here/power"; fi ;;
    esac
    shift 2
  done ;;
esac
exit 0
`;

export async function startIpmiSim(opts: IpmiSimOptions = {}): Promise<IpmiSim> {
  const user = opts.user ?? 'ledger';
  const password = opts.password ?? 'fence-me-softly';
  const dir = await mkdtemp(join(tmpdir(), 'ledger-ipmisim-'));
  await mkdir(join(dir, 'state'));
  await writeFile(join(dir, 'power'), opts.initialPower === 'on' ? '1\n' : '0\n');
  await writeFile(join(dir, 'calls.log'), '');
  if (opts.honourSoftOff ?? true) await writeFile(join(dir, 'honour-soft-off'), '');
  await writeFile(join(dir, 'chassis.sh'), CHASSIS_SCRIPT);
  await chmod(join(dir, 'chassis.sh'), 0o755);
  await writeFile(join(dir, 'sim.emu'), [
    'mc_setbmc 0x20',
    'mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr',
    'sel_enable 0x20 1000 0x0a',
    'mc_enable 0x20',
    '',
  ].join('\n'));

  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freeUdpPort();
    await writeFile(join(dir, 'lan.conf'), [
      `name "ledger_bmc_${port}"`,
      'set_working_mc 0x20',
      '  startlan 1',
      `    addr 127.0.0.1 ${port}`,
      '    priv_limit admin',
      '    allowed_auths_callback none md2 md5 straight',
      '    allowed_auths_user none md2 md5 straight',
      '    allowed_auths_operator none md2 md5 straight',
      '    allowed_auths_admin none md2 md5 straight',
      '    guid a123456789abcdefa123456789abcdef',
      '  endlan',
      `  chassis_control "${join(dir, 'chassis.sh')} 0x20"`,
      `  user 2 true "${user}" "${password}" admin 10 none md2 md5 straight`,
      '',
    ].join('\n'));
    let output = '';
    const child: ChildProcess = spawn('ipmi_sim', ['-c', join(dir, 'lan.conf'), '-f', join(dir, 'sim.emu'), '-s', join(dir, 'state'), '-n'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => { output += d; });
    child.stderr!.on('data', (d) => { output += d; });
    const exited = new Promise<void>((res) => child.once('exit', () => res()));
    let dead = false;
    void exited.then(() => { dead = true; });
    const spawnError = await new Promise<Error | undefined>((res) => { child.once('error', res); child.once('spawn', () => res(undefined)); });
    if (spawnError) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`ipmi_sim could not be started: ${spawnError.message}`);
    }
    // Ready when the BMC answers a power status over RMCP+.
    const deadline = Date.now() + 10_000;
    let ready = false;
    while (!dead && Date.now() < deadline) {
      const r = await execTool('ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', user, '-E', '-C', '3', '-N', '1', '-R', '1', 'chassis', 'power', 'status'], {
        env: { ...process.env, IPMI_PASSWORD: password }, timeoutMs: 5000,
      });
      if (r.code === 0) { ready = true; break; }
      lastError = r.stderr.trim();
      await sleep(100);
    }
    if (!ready) {
      child.kill('SIGKILL');
      await exited;
      lastError = `${lastError} ${output}`.trim();
      continue;
    }
    const stop = async () => {
      if (!dead) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
      await rm(dir, { recursive: true, force: true });
    };
    return {
      host: '127.0.0.1', port, user, password, dir, pid: child.pid!,
      power: async () => ((await readFile(join(dir, 'power'), 'utf8')).trim() === '1' ? 'on' : 'off'),
      setHonourSoftOff: async (on) => { if (on) await writeFile(join(dir, 'honour-soft-off'), ''); else await rm(join(dir, 'honour-soft-off'), { force: true }); },
      setPower: (state) => writeFile(join(dir, 'power'), state === 'on' ? '1\n' : '0\n'),
      calls: async () => (await readFile(join(dir, 'calls.log'), 'utf8')).split('\n').filter(Boolean),
      stop,
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error(`ipmi_sim did not answer on loopback: ${lastError}`);
}
