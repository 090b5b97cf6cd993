/**
 * Test runner for `npm test`: every `*.test.ts` file (unit tests beside the code, integration tests in `test/`)
 * runs in its own Node process under uvu; the summaries are added up and the run ends with the line
 * `N passed, N failed` on its own (the skipped count is on the line before). A file that crashes or times out counts as one failure.
 *
 * Usage: run-tests.ts [substring filters…]   (e.g. `npm test -- core/event-store`)
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { availableParallelism } from 'node:os';

const ROOTS = ['core', 'schema', 'layers', 'projections', 'host-agent', 'api', 'cli', 'bench', 'test'];
const FILE_TIMEOUT_MS = Number(process.env.LEDGER_TEST_FILE_TIMEOUT_MS ?? 300_000);
const root = process.cwd();

function findTests(dir: string, out: string[] = []): string[] {
  let entries: string[];
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) findTests(full, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, full));
  }
  return out;
}

interface FileResult { file: string; passed: number; failed: number; skipped: number; ms: number; output: string; notes: string[] }

/** Kills of the test files running now (each in its own process group, so Ctrl-C must be passed on). */
const running = new Set<() => void>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => { for (const kill of [...running]) kill(); process.exit(130); });
}

function runFile(file: string): Promise<FileResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root, env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so whatever it started can be reaped with it
    });
    // A test file's leftover children (a server, a role process) keep its output pipes open, and 'close' would
    // wait for them forever: when the file's process exits or times out, its whole process group is killed.
    const killGroup = () => { running.delete(killGroup); try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } };
    running.add(killGroup);
    child.on('exit', killGroup);
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    const timer = setTimeout(() => { output += `\n[runner] timed out after ${FILE_TIMEOUT_MS} ms\n`; killGroup(); }, FILE_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      const num = (label: string) => {
        const all = [...output.matchAll(new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'gm'))];
        return all.reduce((s, m) => s + Number(m[1]), 0);
      };
      const total = num('Total');
      const passed = num('Passed');
      const skipped = num('Skipped');
      let failed = Math.max(0, total - passed - skipped);
      if ((code !== 0 || total === 0) && failed === 0) failed = 1; // crashed, or ran nothing
      const notes = output.split('\n').filter((l) => /^SKIPPED\b/.test(l.trim())).map((l) => l.trim());
      resolve({ file, passed, failed, skipped: skipped + notes.length, ms: Date.now() - started, output, notes });
    });
  });
}

const filters = process.argv.slice(2);
const files = ROOTS.flatMap((r) => findTests(join(root, r))).filter((f) => filters.length === 0 || filters.some((x) => f.includes(x))).sort();
const concurrency = Number(process.env.LEDGER_TEST_CONCURRENCY ?? Math.max(1, Math.min(2, availableParallelism())));
const results: FileResult[] = [];
let next = 0;
async function worker() {
  while (next < files.length) {
    const file = files[next++];
    const r = await runFile(file);
    results.push(r);
    const status = r.failed ? 'FAIL' : 'ok  ';
    console.log(`${status} ${r.file}  (${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped, ${(r.ms / 1000).toFixed(1)}s)`);
    for (const n of r.notes) console.log(`     ${n}`);
    if (r.failed) console.log(r.output.split('\n').map((l) => '     | ' + l).join('\n'));
  }
}
const t0 = Date.now();
await Promise.all(Array.from({ length: concurrency }, worker));
const sum = (k: 'passed' | 'failed' | 'skipped') => results.reduce((s, r) => s + r[k], 0);
console.log(`\n${files.length} test files in ${((Date.now() - t0) / 1000).toFixed(1)}s; ${sum('skipped')} skipped (named above)`);
console.log(`${sum('passed')} passed, ${sum('failed')} failed`); // the last line, exactly `N passed, N failed`
process.exit(sum('failed') > 0 || files.length === 0 ? 1 : 0);
