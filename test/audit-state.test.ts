/**
 * `ledger state <stream>` as a child process: the state folded by the category's decider now, at a revision and as
 * of a recorded time; a category without a decider shows its events instead; refusals of bad arguments.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedScenario, type Scenario } from '../core/audit/fixture.ts';
import { ledger } from '../core/audit/cli-harness.ts';
import { SqliteEventStore } from '../core/event-store/sqlite.ts';
import '../core/testing/example-account.ts';
import { newEvent } from '../core/testing/events.ts';

const dir = mkdtempSync(join(tmpdir(), 'ledger-audit-state-'));
let s: Scenario;
test.before(async () => {
  s = await seedScenario(dir);
  const store = new SqliteEventStore({ path: s.path });
  await store.append('Account-a_1', [newEvent('AccountOpened', { owner: 'ann' }), newEvent('Deposited', { amount: 5 })]);
  await store.close();
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

const state = (...args: string[]) => ledger(['state', ...args, '--data', dir]);

test('now: the Host decider folds the whole stream', async () => {
  const r = await state('Host-h_1', '--json');
  assert.is(r.code, 0, r.stderr);
  assert.equal([r.json.folded, r.json.revision, r.json.headRevision, r.json.eventCount, r.json.position], [true, 4, 4, 5, 9]);
  assert.is(r.json.state.admin, 'draining');
  assert.is(r.json.state.slices.xn_1.state, 'running');
  assert.equal(r.json.state.used.cpuCores, 4);
  const text = await state('Host-h_1');
  assert.match(text.lines[0], /^Host-h_1: revision 4 of 4, position 9, recorded .*Z; 5 events folded by the Host decider/);
  assert.is(JSON.parse(text.lines.slice(1).join('\n')).admin, 'draining');
});

test('--at-revision and --as-of: the state the ledger held then', async () => {
  const r1 = await state('Host-h_1', '--at-revision', '1', '--json');
  assert.is(r1.code, 0, r1.stderr);
  assert.equal([r1.json.revision, r1.json.atRevision, r1.json.state.admin, r1.json.state.slices.xn_1.state], [1, 1, 'online', 'provisioning']);
  const r2 = await state('Host-h_1', '--as-of', s.times.observed, '--json');
  assert.equal([r2.json.revision, r2.json.asOf, r2.json.state.slices.xn_1.state, r2.json.state.admin], [3, s.times.observed, 'running', 'online']);
  const r3 = await state('Host-h_1', '--as-of', s.times.host, '--json');
  assert.equal([r3.json.revision, Object.keys(r3.json.state.slices).length], [0, 0]);
  const before = await state('Host-h_1', '--as-of', '2000-01-01');
  assert.is(before.code, 0);
  assert.match(before.lines[0], /^Host-h_1 did not exist yet as of 2000-01-01T00:00:00.000Z \(it has revisions 0 to 4 now\)/);
  const p = await state('Project-p_web', '--json');
  assert.equal([p.json.state.status, p.json.state.ownerId], ['active', 'u_bob']);
});

test('a category without a registered decider: its events instead, and it says so', async () => {
  const r = await state('Account-a_1');
  assert.is(r.code, 0, r.stderr);
  assert.match(r.lines[0], /no decider is registered for category Account, so here are its 2 events instead of a state/);
  assert.match(r.lines[2], /@1 Deposited \{"amount":5\}/);
  const j = await state('Account-a_1', '--json');
  assert.equal([j.json.folded, j.json.events.length], [false, 2]);
});

test('refusals: unknown stream, bad revision, both points, bad time, bad name', async () => {
  const cases: [string[], RegExp][] = [
    [['Host-h_404'], /stream Host-h_404 has no events/],
    [['Host-h_1', '--at-revision', '9'], /revision 9 of Host-h_1 does not exist: its revisions are 0 to 4/],
    [['Host-h_1', '--at-revision', 'x'], /--at-revision "x": expected a whole number/],
    [['Host-h_1', '--as-of', '2025-01-01', '--at-revision', '1'], /cannot be used with/],
    [['Host-h_1', '--as-of', 'last week'], /--as-of "last week": expected an ISO 8601 time/],
    [['not-a/stream'], /expected <Category>-<id>/],
  ];
  for (const [args, re] of cases) {
    const r = await state(...args);
    assert.is(r.code, 1, `${args.join(' ')}: ${r.stdout}`);
    assert.match(r.stderr, re);
  }
});

test.run();
