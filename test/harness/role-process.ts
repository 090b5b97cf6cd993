/**
 * Test harness: a `node bin/ledger.js <role>` child process configured by environment only, with its output kept
 * and a way to wait for a line. Children are killed when the test process exits.
 *
 *   const relay = startRole('relay', { LEDGER_NATS_URL: nats.url, LEDGER_DATA_DIR: dir });
 *   const [, token] = await relay.waitFor(/as leader \(fencing token (\d+)\)/);
 *   relay.signal('SIGSTOP'); … relay.signal('SIGCONT');
 *   await relay.stop();   // SIGTERM, resolves with the exit code
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const live = new Set<ChildProcess>();
process.on('exit', () => { for (const c of live) { try { c.kill('SIGCONT'); c.kill('SIGKILL'); } catch { /* gone */ } } });

export interface RoleProcess {
  child: ChildProcess;
  pid: number;
  /** Everything it printed (stdout and stderr). */
  output(): string;
  /** Output printed from character `from` on. */
  since(from: number): string;
  /** Waits until the output (from character `from`) matches; returns the match. */
  waitFor(pattern: RegExp, options?: { timeoutMs?: number; from?: number }): Promise<RegExpMatchArray>;
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM (after SIGCONT), then SIGKILL after `graceMs`; resolves with the exit code (null if killed). */
  stop(graceMs?: number): Promise<number | null>;
}

export function startRole(role: string, env: NodeJS.ProcessEnv, args: string[] = [], nodeArgs: string[] = []): RoleProcess {
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, 'bin', 'ledger.js'), role, ...args], {
    cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { live.delete(child); resolve(code); }));
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  return {
    child,
    pid: child.pid!,
    output: () => out,
    since: (from) => out.slice(from),
    waitFor(pattern, options = {}) {
      const deadline = Date.now() + (options.timeoutMs ?? 20_000);
      return new Promise((resolve, reject) => {
        const poll = setInterval(() => {
          const m = out.slice(options.from ?? 0).match(pattern);
          if (m) { clearInterval(poll); resolve(m); } else if (child.exitCode !== null || Date.now() > deadline) {
            clearInterval(poll);
            reject(new Error(`ledger ${role} (pid ${child.pid}) did not print ${pattern}${child.exitCode !== null ? ` (exited ${child.exitCode})` : ''}:\n${out}`));
          }
        }, 10);
      });
    },
    signal: (signal) => { if (child.exitCode === null) child.kill(signal); },
    async stop(graceMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const code = await exited;
        clearTimeout(timer);
        return code;
      }
      return exited;
    },
  };
}
