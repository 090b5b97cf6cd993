/**
 * Running host tools: always an executable and an argument vector (execFile / spawn), never a shell string.
 */
import { execFile, spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { DriverError } from './port.ts';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface ExecOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to the child's standard input, which is then closed. */
  input?: string;
}

/** Runs `file args…` and resolves with its exit code and output (a non-zero exit does not reject). Rejects with a
 *  DriverError when the tool is missing ('unreachable') or runs past the timeout ('timeout'). */
export function execTool(file: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const started = performance.now();
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, {
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      maxBuffer: 64 * 1024 * 1024,
      env: opts.env ?? { ...process.env, LC_ALL: 'C' },
      cwd: opts.cwd,
      encoding: 'utf8',
    }, (err, stdout, stderr) => {
      const ms = performance.now() - started;
      if (err) {
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string; signal?: string };
        if (e.code === 'ENOENT') return reject(new DriverError('unreachable', `${file} is not installed (not found on PATH)`));
        if (e.killed && e.signal === 'SIGKILL') return reject(new DriverError('timeout', `${file} ${args.join(' ')} did not finish within ${timeoutMs} ms`));
        if (typeof e.code === 'number') return resolve({ code: e.code, stdout, stderr, ms });
        if (e.signal) return resolve({ code: 128, stdout, stderr: `${stderr}\nkilled by ${e.signal}`, ms });
        return reject(new DriverError('command-failed', `${file}: ${e.message}`));
      }
      resolve({ code: 0, stdout, stderr, ms });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Finds an executable on PATH (or checks an absolute path); undefined when missing. */
export async function which(name: string): Promise<string | undefined> {
  const candidates = name.includes('/') ? [name] : (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
    .split(delimiter).concat(['/usr/sbin', '/sbin']).map((d) => join(d, name));
  for (const c of candidates) {
    try { await access(c, constants.X_OK); return c; } catch { /* next */ }
  }
  return undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` until it returns true or the deadline passes; resolves with whether it became true. */
export async function waitFor(probe: () => Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
  }
}

/** First line of a tool's error output, for messages. */
export function firstLine(s: string): string {
  return s.split('\n').map((l) => l.trim()).filter(Boolean)[0] ?? '';
}

/**
 * Runs a tool whose children outlive it (`runc run -d`): no pipes, so nothing waits for the children to close
 * them. Output goes nowhere (or to `logFd`). Resolves with the exit code.
 */
export function execDetached(file: string, args: readonly string[], opts: { timeoutMs?: number; logFd?: number } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const out = opts.logFd ?? 'ignore';
    const child = spawn(file, args, { stdio: ['ignore', out, out] });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(e.code === 'ENOENT' ? new DriverError('unreachable', `${file} is not installed`) : e);
    });
    child.once('exit', (code, signal) => { clearTimeout(timer); resolve(code ?? (signal ? 128 : 1)); });
  });
}
