/** For the CLI tests of the audit tools: run `node bin/ledger.js …` as a child process and capture what it says. */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface CliResult { code: number | null; stdout: string; stderr: string; lines: string[]; json: any }

export function ledger(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'ledger.js'), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => { stdout += b; });
    child.stderr.on('data', (b) => { stderr += b; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`ledger ${args.join(' ')} did not finish in 120 s`)); }, 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const lines = stdout.split('\n').filter((l) => l.length);
      let json: any;
      try { json = lines.length ? JSON.parse(lines[lines.length - 1]) : undefined; } catch { json = undefined; }
      resolve({ code, stdout, stderr, lines, json });
    });
  });
}
