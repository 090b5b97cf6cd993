/**
 * `ledger audit log` as a child process over a log written through the real deciders (core/audit/fixture.ts):
 * the timeline, every filter, a request traced by its correlation id across Project and Host streams, paging,
 * the index catching up, and refusals of bad options.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedScenario, REQUEST, TENANT, type Scenario } from '../core/audit/fixture.ts';
import { ledger } from '../core/audit/cli-harness.ts';
import { SqliteEventStore } from '../core/event-store/sqlite.ts';
import { CommandHandler } from '../core/command-handler.ts';
import { hostDecider } from '../layers/resources/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'ledger-audit-log-'));
let s: Scenario;
test.before(async () => { s = await seedScenario(dir); });
test.after(() => rmSync(dir, { recursive: true, force: true }));

const log = (...args: string[]) => ledger(['audit', 'log', '--data', dir, ...args]);
const types = async (...args: string[]) => {
  const r = await log(...args, '--json');
  assert.is(r.code, 0, r.stderr);
  return r.json.entries.map((e: any) => `${e.streamId}@${e.revision} ${e.type}`);
};

test('the whole timeline: time, actor, stream, event, summary, correlation/causation', async () => {
  const r = await log();
  assert.is(r.code, 0, r.stderr);
  assert.is(r.lines.length, 9);
  assert.match(r.lines[0], /^\d{4}-\d\d-\d\dT[\d:.]+Z operator:ops_ann +Region-r_eu@0 +RegionRegistered +Europe +\[corr setup_1/);
  assert.match(r.lines[5], /system:scheduler +Host-h_1@1 +XNodeSliced +xn_1 size \(4 cores, 8192 MiB, 100 GiB\) state provisioning +\[corr req_0190f5c27a4b7cc3 ← …/);
  assert.match(r.lines[8], /HostStatusChanged +online → draining \(operator\) "disk replacement"/);
  const j = await log('--json');
  assert.is(j.json.entries.length, 9);
  assert.equal(j.json.entries.map((e: any) => e.position), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(j.json.entries[4].actor, { id: TENANT, kind: 'tenant' });
  assert.is(j.json.nextCursor, null);
});

test('a tenant request followed by its correlation id across streams and layers, nested by causation', async () => {
  const r = await log('--correlation', REQUEST);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.lines[0], new RegExp(`request ${REQUEST}: 4 event\\(s\\)`));
  assert.match(r.lines[1], /tenant:u_bob +Project-p_web@0 ProjectCreated/);
  assert.match(r.lines[2], /system:scheduler +Host-h_1@1 +  XNodeSliced/, 'the scheduler\'s slice is caused by the project creation');
  assert.match(r.lines[3], /agent:h_1 +Host-h_1@2 +    XNodeObserved/, 'the agent\'s report is caused by the slice');
  assert.match(r.lines[4], /agent:h_1 +Host-h_1@3 +    XNodeProvisioned/);
  const j = await log('--correlation', REQUEST, '--json');
  const [project, slice, observed] = j.json.entries;
  assert.is(slice.causationId, project.eventId);
  assert.is(observed.causationId, slice.eventId);
  assert.is(project.commandId, 'cmd_project_1');
});

test('filters: stream, category, tenant, actor (kind:id or bare), time window (half-open)', async () => {
  assert.equal(await types('--stream', 'Project-p_web'), ['Project-p_web@0 ProjectCreated']);
  assert.equal((await types('--category', 'Host')).length, 5);
  assert.equal(await types('--tenant', TENANT), ['Project-p_web@0 ProjectCreated', 'Host-h_1@1 XNodeSliced', 'Host-h_1@2 XNodeObserved', 'Host-h_1@3 XNodeProvisioned']);
  assert.equal(await types('--actor', 'agent:h_1'), ['Host-h_1@2 XNodeObserved', 'Host-h_1@3 XNodeProvisioned']);
  assert.equal((await types('--actor', 'ops_ann')).length, 5);
  assert.equal(await types('--actor', 'operator:h_1'), []);
  assert.equal(await types('--category', 'Host', '--actor', 'operator:ops_ann'), ['Host-h_1@0 HostRegistered', 'Host-h_1@4 HostStatusChanged']);
  assert.equal(await types('--from', s.times.project, '--to', s.times.drain), ['Project-p_web@0 ProjectCreated', 'Host-h_1@1 XNodeSliced', 'Host-h_1@2 XNodeObserved', 'Host-h_1@3 XNodeProvisioned']);
  assert.equal(await types('--from', '2999-01-01'), []);
  const none = await log('--tenant', 'u_nobody');
  assert.is(none.code, 0);
  assert.equal(none.lines, ['no events match']);
});

test('paging with --limit and --after visits every event once, in order', async () => {
  const seen: number[] = [];
  let after: string | undefined;
  for (let i = 0; i < 10; i++) {
    const r = await log('--limit', '4', '--json', ...(after ? ['--after', after] : []));
    assert.is(r.code, 0, r.stderr);
    seen.push(...r.json.entries.map((e: any) => e.position));
    if (r.json.nextCursor === null) break;
    after = String(r.json.nextCursor);
  }
  assert.equal(seen, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const text = await log('--limit', '4');
  assert.is(text.lines[text.lines.length - 1], 'more: --after 4');
});

test('the index catches up with new events; --no-index scans and agrees', async () => {
  const store = new SqliteEventStore({ path: s.path });
  await new CommandHandler(store, hostDecider).handle('Host-h_1', { type: 'ReturnHostOnline', data: { hostId: 'h_1' } }, { actor: { kind: 'operator', id: 'ops_cy' }, correlationId: 'maint_2' });
  await store.close();
  assert.equal(await types('--actor', 'operator:ops_cy'), ['Host-h_1@5 HostStatusChanged']);
  assert.equal(await types('--actor', 'operator:ops_cy', '--no-index'), ['Host-h_1@5 HostStatusChanged']);
  assert.equal(await types('--category', 'Host', '--no-index'), await types('--category', 'Host'));
  const j = await log('--json', '--actor', 'ops_cy');
  assert.is(j.json.indexedThrough, 10, 'the audit index in readmodels.sqlite is up to date');
});

test('bad options are refused with exit 1 and a message naming them; a missing store too', async () => {
  const cases: [string[], RegExp][] = [
    [['--limit', '0'], /--limit "0": must be between 1 and 1000/],
    [['--limit', 'ten'], /--limit "ten": expected a whole number/],
    [['--from', 'yesterday'], /--from "yesterday": expected an ISO 8601 time/],
    [['--from', '2025-02-01', '--to', '2025-01-01'], /time window is empty/],
    [['--actor', 'robot:r2'], /actor "robot:r2": expected <kind>:<id>/],
    [['--stream', 'not a stream'], /stream "not a stream": expected <Category>-<id>/],
    [['--after', '-3'], /error: unknown option|--after "-3"/],
  ];
  for (const [args, re] of cases) {
    const r = await log(...args);
    assert.is(r.code, 1, `${args.join(' ')}: ${r.stdout}`);
    assert.match(r.stderr, re);
  }
  const empty = mkdtempSync(join(tmpdir(), 'ledger-audit-empty-'));
  const r = await ledger(['audit', 'log', '--data', empty]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /no event store at .*events\.sqlite/);
  rmSync(empty, { recursive: true, force: true });
});

test('--help explains the options', async () => {
  const r = await ledger(['audit', 'log', '--help']);
  assert.is(r.code, 0);
  for (const o of ['--stream', '--category', '--tenant', '--actor', '--correlation', '--from', '--to', '--limit', '--after', '--json', '--data']) assert.ok(r.stdout.includes(o), o);
});

test.run();
