/**
 * `ledger replay` as a child process: read models rebuilt from zero beside the live ones with progress on stderr,
 * rebuilt digests printed next to the live ones (equal), swapped in; a drifted live model repaired; `--until` a
 * position or a time (no swap); refusals.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedScenario, type Scenario } from '../core/audit/fixture.ts';
import { ledger } from '../core/audit/cli-harness.ts';

const dir = mkdtempSync(join(tmpdir(), 'ledger-audit-replay-'));
let s: Scenario;
test.before(async () => { s = await seedScenario(dir); });
test.after(() => rmSync(dir, { recursive: true, force: true }));

const replay = (...args: string[]) => ledger(['replay', '--data', dir, ...args]);

test('every read model: built, then rebuilt side by side with the same digest as the live one, and swapped', async () => {
  const first = await replay('--json');
  assert.is(first.code, 0, first.stderr);
  const names = first.json.projections.map((p: any) => p.name);
  assert.ok(names.includes('audit') && names.includes('projects'), names.join());
  for (const p of first.json.projections) {
    assert.is(p.live, null, `${p.name} had never been projected here`);
    assert.is(p.position, 9);
    assert.ok(p.swapped, `${p.name} swapped in`);
  }
  // one progress line for the one pass over the log that rebuilds every read model
  assert.match(first.stderr, /audit, [\w, ]*projects[\w, ]*: position 9\/9 \(100%\), 9 events, \d+ events\/s, ETA 0s/);
  const second = await replay();
  assert.is(second.code, 0, second.stderr);
  for (const name of ['audit', 'projects']) {
    const block = second.stdout.split('\n').filter((l, i, all) => l.startsWith(`${name} v`) || (l.startsWith('  ') && all.slice(0, i).reverse().find((x) => !x.startsWith('  '))?.startsWith(`${name} v`)));
    assert.match(block[0], new RegExp(`^${name} v\\d+: \\d+ events folded in [\\d.]+ s \\(\\d+ events/s\\), up to position 9`));
    const rebuilt = /rebuilt digest ([0-9a-f]{64})/.exec(block[1])![1];
    assert.match(block[2], new RegExp(`live digest    ${rebuilt} \\(position 9\\): EQUAL`));
    assert.match(block[3], /swapped into the live read-model database at position 9/);
  }
});

test('a drifted live read model: DIFFERENT, and the swap repairs it', async () => {
  const db = new Database(join(dir, 'readmodels.sqlite'));
  db.prepare("UPDATE projects_projects SET name = 'tampered'").run();
  db.close();
  const r = await replay('--projection', 'projects', '--json');
  assert.is(r.code, 0, r.stderr);
  assert.equal([r.json.projections[0].equal, !!r.json.projections[0].swapped], [false, true]);
  const again = await replay('--projection', 'projects', '--no-swap', '--json');
  assert.equal([again.json.projections[0].equal, again.json.projections[0].swapped], [true, null]);
  const check = new Database(join(dir, 'readmodels.sqlite'), { readonly: true });
  assert.is((check.prepare('SELECT name FROM projects_projects').get() as any).name, 'web shop');
  check.close();
});

test('--until a position or a time rebuilds up to there, keeps the file and never swaps', async () => {
  const r = await replay('--projection', 'audit', '--until', '5', '--json');
  assert.is(r.code, 0, r.stderr);
  const p = r.json.projections[0];
  assert.equal([p.position, p.events, p.swapped, p.equal], [5, 5, null, null]);
  assert.ok(existsSync(p.file), 'the rebuilt file is kept');
  assert.match(r.stderr, /replaying up to position 5/);
  const t = await replay('--projection', 'projects', '--until', s.times.project, '--json');
  assert.is(t.code, 0, t.stderr);
  assert.equal([t.json.projections[0].position, t.json.projections[0].events], [5, 2]);
  assert.match(t.stderr, new RegExp(`replaying up to ${s.times.project.replace(/\./g, '\\.')} \\(position 5\\)`));
});

test('refusals: unknown projection, --until beyond the log, bad --until', async () => {
  const a = await replay('--projection', 'nope');
  assert.is(a.code, 1);
  assert.match(a.stderr, /unknown projection "nope"; known: .*audit/);
  const b = await replay('--until', '999');
  assert.is(b.code, 1);
  assert.match(b.stderr, /--until 999 is beyond the head of the log \(9\)/);
  const c = await replay('--until', 'soon');
  assert.is(c.code, 1);
  assert.match(c.stderr, /--until "soon"/);
});

test.run();
