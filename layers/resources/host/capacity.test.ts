/**
 * The host stream is the capacity boundary: 1,000 concurrent, conflicting slice commands against ONE host, through
 * the real CommandHandler (four instances with their own caches, like four API/scheduler processes) and the real
 * SqliteEventStore on a temp file. Afterwards the stream is read back and folded event by event: consumption never
 * exceeds capacity at any revision, and every refusal is a DomainError with a clear message.
 *
 * A CONCURRENCY_CONFLICT (the handler gave up after its bounded retries because the stream kept changing) is not a
 * refusal: like a real client, the sender retries it with the same commandId (idempotent).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CommandHandler, RetriesExhaustedError } from '../../../core/command-handler.ts';
import { DomainError } from '../../../core/decider.ts';
import { WrongExpectedRevisionError, type EventStore } from '../../../core/event-store/port.ts';
import { SqliteEventStore } from '../../../core/event-store/sqlite.ts';
import { add, RESOURCE_KEYS, shortfalls, sizeOf, ZERO } from '../common/quantities.ts';
import { stream } from '../common/ids.ts';
import type { HostCommand } from './commands.ts';
import { consumption } from './consumption.ts';
import { hostDecider, type HostState } from './decider.ts';
import type { HostEvent } from './events.ts';

const HOST = 'h_cap';
const STREAM = stream.host(HOST);
const operator = { kind: 'operator', id: 'capacity_test' } as const;

let seed = 7;
const rnd = (n: number) => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return (((t ^ (t >>> 14)) >>> 0) / 4_294_967_296 * n) | 0;
};

type Outcome = { ok: true; events: HostEvent[] } | { ok: false; error: DomainError };
let conflicts = 0;

async function send(handler: CommandHandler<HostState, HostCommand, HostEvent>, command: HostCommand, commandId: string): Promise<Outcome> {
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await handler.handle(STREAM, command, { actor: operator, commandId });
      return { ok: true, events: r.events as unknown as HostEvent[] };
    } catch (error) {
      if (error instanceof DomainError) return { ok: false, error };
      if (error instanceof RetriesExhaustedError && attempt < 200) {
        conflicts++;
        await new Promise((r) => setTimeout(r, rnd(20)));
        continue;
      }
      throw error;
    }
  }
}

/** Folds the stored stream and checks the invariant after every single event. */
function foldChecked(events: HostEvent[]): HostState {
  let state = hostDecider.initialState();
  for (const e of events) {
    state = hostDecider.evolve(state, e);
    const sum = Object.values(state.slices).reduce((acc, s) => add(acc, consumption(s.kind, s.size, s.state)), ZERO);
    assert.equal(state.used, sum, `used drifted from Σ consumption after ${e.type}`);
    for (const k of RESOURCE_KEYS) assert.ok(sum[k] <= state.capacity[k], `${k} overcommitted: ${sum[k]} > ${state.capacity[k]} after ${e.type}`);
  }
  return state;
}

const dir = mkdtempSync(join(tmpdir(), 'ledger-capacity-'));
const store = new SqliteEventStore({ path: join(dir, 'events.sqlite') });
/** The real store, counting the appends it refused for a stale expected revision (the conflicts the handlers resolved). */
let revisionConflicts = 0;
const counted: EventStore = Object.assign(Object.create(store) as EventStore, {
  append: async (...args: Parameters<EventStore['append']>) => {
    try { return await store.append(...args); } catch (error) { if (error instanceof WrongExpectedRevisionError) revisionConflicts++; throw error; }
  },
});
const handlers = Array.from({ length: 4 }, () => new CommandHandler(counted, hostDecider));
const CAPACITY_MESSAGE = /^host h_cap cannot fit slice xn_\w+ \(.+\): (cpuCores|ramMiB|diskGiB|diskIops) requested \d+, free \d+ of capacity \d+/;

test.after(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); });

test('register the host', async () => {
  const r = await send(handlers[0], {
    type: 'RegisterHost',
    data: {
      hostId: HOST, zoneId: 'z_a', regionId: 'r_eu', name: 'capacity', type: 'VM', area: 'dc1/r1',
      resources: { cpuCores: 96, cpuMHz: 0, ramMiB: 524_288, diskGiB: 8_000, diskIops: 200_000 },
      reserved: { cpuCores: 2, ramMiB: 8_192, diskGiB: 100 }, allocationRatios: { cpuCores: 4, ramMiB: 1.5 },
    },
  }, 'register');
  assert.ok(r.ok);
});

test('1,000 concurrent conflicting slice commands: zero overcommit, every refusal a clear DomainError', async () => {
  // 1,000 requests for ~7× what the host holds; every 20th reuses an earlier id with another size (XNODE_EXISTS or accepted, never both)
  const commands = Array.from({ length: 1_000 }, (_, i) => {
    const id = i % 20 === 19 ? `xn_${i - 3}` : `xn_${i}`;
    const size = { cpuCores: 1 + rnd(4), ramMiB: 1_024 * (1 + rnd(8)), diskGiB: 10 * (2 + rnd(9)), diskIops: rnd(4) * 500 };
    return { type: 'SliceXNode', data: { hostId: HOST, xnodeId: id, size, contractId: `rc_${i}` } } as HostCommand;
  });
  const started = Date.now();
  const outcomes = await Promise.all(commands.map((c, i) => send(handlers[i % handlers.length], c, `slice_${i}`)));
  const elapsed = Date.now() - started;

  const accepted = outcomes.filter((o) => o.ok);
  const refused = outcomes.filter((o): o is { ok: false; error: DomainError } => !o.ok);
  const byCode = new Map<string, number>();
  for (const r of refused) byCode.set(r.error.code, (byCode.get(r.error.code) ?? 0) + 1);
  console.log(`  ${accepted.length} accepted, ${refused.length} refused (${[...byCode].map(([c, n]) => `${c} ${n}`).join(', ')}), ${revisionConflicts} appends refused for a stale revision and retried by the handlers, ${conflicts} retries by clients, ${elapsed} ms`);
  assert.ok(revisionConflicts > 100, 'the commands really raced for the same stream revision');

  // every refusal is a business refusal with a stable code and a message naming resource, requested and free
  assert.ok(refused.length > 300, 'the host must be oversubscribed');
  assert.ok(byCode.has('XNODE_EXISTS'), 'reused ids must meet their first holder');
  for (const r of refused) {
    assert.ok(['INSUFFICIENT_CAPACITY', 'XNODE_EXISTS'].includes(r.error.code), r.error.code);
    if (r.error.code === 'INSUFFICIENT_CAPACITY') assert.match(r.error.message, CAPACITY_MESSAGE);
    else assert.match(r.error.message, /^slice xn_\d+ already exists on host h_cap \(provisioning\)$/);
  }

  // read the stream back from the store and fold it: the invariant holds at every revision
  const stored = await store.readStream(STREAM);
  const final = foldChecked(stored as unknown as HostEvent[]);
  const sliced = stored.filter((e) => e.type === 'XNodeSliced');
  assert.is(sliced.length, accepted.length, 'one XNodeSliced per accepted command');
  assert.is(new Set(sliced.map((e) => (e.data as { xnodeId: string }).xnodeId)).size, sliced.length, 'no slice id granted twice');
  assert.is(Object.keys(final.slices).length, accepted.length);
  assert.is(await store.verifyStream(STREAM), null, 'hash chain intact');

  // usage only grew, so every capacity refusal is still true at the end (no refusal was a false "no")
  for (const [i, o] of outcomes.entries()) {
    if (o.ok || o.error.code !== 'INSUFFICIENT_CAPACITY') continue;
    const size = sizeOf((commands[i].data as { size: Parameters<typeof sizeOf>[0] }).size);
    assert.ok(shortfalls(final.capacity, final.used, size).length > 0, `refused ${(commands[i].data as { xnodeId: string }).xnodeId} would fit`);
  }
  // and the host is really full: the smallest request no longer fits in some resource
  const smallest = { cpuCores: 1, cpuMHz: 0, ramMiB: 1_024, diskGiB: 20, diskIops: 0 };
  assert.ok(shortfalls(final.capacity, final.used, smallest).length > 0, 'capacity left unused while requests were refused');
});

test('1,000 concurrent mixed commands (release, hibernate, activate, power, new slices): the invariant holds at every revision', async () => {
  for (const h of handlers) h.forget();
  const { state } = await handlers[0].state(STREAM);
  const ids = Object.keys(state.slices);
  // bring half of them to running, as an agent would report
  await Promise.all(ids.filter((_, i) => i % 2 === 0).map((id, i) =>
    send(handlers[i % 4], { type: 'ReportXNodeObserved', data: { hostId: HOST, xnodeId: id, observed: 'running', generation: 1, observedAt: '2025-01-01T00:00:00Z' } }, `seen_${id}`)));
  const kinds = ['ReleaseXNode', 'HibernateXNode', 'ActivateXNode', 'PowerOffXNode', 'PowerOnXNode', 'SliceXNode'] as const;
  const commands = Array.from({ length: 1_000 }, (_, i): HostCommand => {
    const type = kinds[rnd(kinds.length)];
    if (type === 'SliceXNode') {
      return { type, data: { hostId: HOST, xnodeId: `xn_m${i}`, size: { cpuCores: 1 + rnd(8), ramMiB: 1_024 * (1 + rnd(16)), diskGiB: 10 * (2 + rnd(9)) } } };
    }
    return { type, data: { hostId: HOST, xnodeId: ids[rnd(ids.length)] } } as HostCommand;
  });
  const outcomes = await Promise.all(commands.map((c, i) => send(handlers[i % 4], c, `mixed_${i}`)));
  const refused = outcomes.filter((o): o is { ok: false; error: DomainError } => !o.ok);
  const byCode = new Map<string, number>();
  for (const r of refused) byCode.set(r.error.code, (byCode.get(r.error.code) ?? 0) + 1);
  console.log(`  ${outcomes.length - refused.length} accepted, ${refused.length} refused (${[...byCode].map(([c, n]) => `${c} ${n}`).join(', ')})`);
  for (const r of refused) {
    assert.instance(r.error, DomainError);
    assert.ok(r.error.message.length > 20 && /xn_\w+/.test(r.error.message), r.error.message);
  }
  assert.ok(byCode.has('INSUFFICIENT_CAPACITY'), 'some activations or slices must have met a full host');
  const stored = await store.readStream(STREAM);
  foldChecked(stored as unknown as HostEvent[]);
  assert.is(await store.verifyStream(STREAM), null);
});

test.run();
