/**
 * The HostBatcher against the real SqliteEventStore: two batchers on one host stream (two schedulers) race slices,
 * so appends conflict; every accepted slice is stored once, the stream never holds more than the host's capacity,
 * refusals are INSUFFICIENT_CAPACITY, and each batcher's in-place state equals the pure fold of the stored stream.
 * An append that fails must not leave its unstored events in the batcher's state.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CommandHandler } from '../../../core/command-handler.ts';
import { DomainError, fold } from '../../../core/decider.ts';
import { SqliteEventStore } from '../../../core/event-store/sqlite.ts';
import type { EventStore } from '../../../core/event-store/port.ts';
import type { HostCommand } from '../../resources/host/commands.ts';
import { hostDecider, type HostState } from '../../resources/host/decider.ts';
import type { HostEvent } from '../../resources/host/events.ts';
import { HostBatcher } from './host-batcher.ts';

const actor = { kind: 'system', id: 'batcher-test' } as const;
const HOST = 'h_bt';
const STREAM = `Host-${HOST}`;
const dirs: string[] = [];
const stores: SqliteEventStore[] = [];

async function registeredStore(cpuCores: number): Promise<SqliteEventStore> {
  const dir = mkdtempSync(join(tmpdir(), 'host-batcher-'));
  dirs.push(dir);
  const store = new SqliteEventStore({ path: join(dir, 'events.sqlite') });
  stores.push(store);
  await new CommandHandler(store, hostDecider).handle(STREAM, {
    type: 'RegisterHost',
    data: { hostId: HOST, zoneId: 'z_a', regionId: 'r_a', name: HOST, type: 'CM', area: 'dc1/row1/rack1', resources: { cpuCores, cpuMHz: 0, ramMiB: 65_536, diskGiB: 1_000, diskIops: 0 } },
  } as HostCommand, { actor });
  return store;
}

const sliceCmd = (i: number, cpuCores = 1): HostCommand => ({
  type: 'SliceXNode', data: { hostId: HOST, xnodeId: `xn_t${i}`, size: { cpuCores, ramMiB: 1024, diskGiB: 10 }, ha: { componentId: `c_t${i}`, replica: 0, epoch: 1 } },
} as HostCommand);

async function storedState(store: EventStore): Promise<{ state: HostState; events: HostEvent[] }> {
  const events = (await store.readStream(STREAM)) as unknown as HostEvent[];
  return { state: fold<HostState, HostEvent>(hostDecider, events), events };
}

test('two batchers race on one host: conflicts re-decided, nothing over capacity, states equal the stored fold', async () => {
  const store = await registeredStore(40);
  const a = new HostBatcher(store);
  const b = new HostBatcher(store);
  const outcomes = await Promise.allSettled(Array.from({ length: 60 }, (_, i) =>
    (i % 2 ? a : b).execute(sliceCmd(i), { actor, commandId: `slice:t${i}` })));
  const accepted = outcomes.filter((o) => o.status === 'fulfilled');
  const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
  assert.is(accepted.length, 40, 'exactly the capacity was sliced');
  assert.is(refused.length, 20);
  for (const r of refused) {
    assert.instance(r.reason, DomainError);
    assert.is((r.reason as DomainError).code, 'INSUFFICIENT_CAPACITY');
  }
  assert.ok(a.conflicts + b.conflicts > 0, 'the two batchers did conflict (the retry path ran)');
  const { state, events } = await storedState(store);
  assert.is(events.filter((e) => e.type === 'XNodeSliced').length, 40);
  assert.is(state.used.cpuCores, 40);
  // each batcher's own state is the pure fold of the stream up to the revision it knows
  for (const x of [a, b]) {
    const revision = x.revision(HOST)!;
    assert.ok(revision >= 0);
    assert.equal(x.state(HOST), fold<HostState, HostEvent>(hostDecider, events.slice(0, revision + 1)));
  }
  // repeated commands: nothing appended
  await a.execute(sliceCmd(1), { actor, commandId: 'slice:t1' });
  await b.execute(sliceCmd(0), { actor, commandId: 'slice:t0' });
  assert.is((await storedState(store)).events.length, events.length);
});

test('a failed append leaves nothing of its batch in the batcher state; the next command decides on the stored stream', async () => {
  const store = await registeredStore(8);
  let failNext = true;
  const flaky: EventStore = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        return (...args: Parameters<EventStore['append']>) => {
          if (failNext) { failNext = false; return Promise.reject(new Error('disk on fire')); }
          return target.append(...args);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const batcher = new HostBatcher(flaky);
  await batcher.execute(sliceCmd(1, 2), { actor, commandId: 'slice:ok1' }).then(
    () => assert.unreachable('the first append fails'),
    (error) => assert.match(String(error), 'disk on fire'),
  );
  // the failed slice took 2 cores in the in-memory state while it was decided: they must be free again
  await batcher.execute(sliceCmd(2, 8), { actor, commandId: 'slice:ok2' });
  const { state } = await storedState(store);
  assert.is(state.used.cpuCores, 8);
  assert.is(state.slices.xn_t1, undefined);
  assert.equal(batcher.state(HOST), state);
});

test('a refusal decided on a stale state is checked again against the stream: capacity freed by another writer is used', async () => {
  const store = await registeredStore(4);
  const batcher = new HostBatcher(store);
  await batcher.execute(sliceCmd(1, 4), { actor, commandId: 'slice:full' });
  // another process releases the slice; the batcher's state still shows the host full
  await new CommandHandler(store, hostDecider).handle(STREAM, { type: 'ReleaseXNode', data: { hostId: HOST, xnodeId: 'xn_t1' } } as HostCommand, { actor });
  assert.is(batcher.state(HOST)!.used.cpuCores, 4);
  await batcher.execute(sliceCmd(2, 3), { actor, commandId: 'slice:after-release' });
  const { state } = await storedState(store);
  assert.is(state.slices.xn_t2.state, 'provisioning');
  assert.equal(batcher.state(HOST), state);
  // and a refusal that stands is still a refusal
  await batcher.execute(sliceCmd(3, 2), { actor, commandId: 'slice:too-big' }).then(
    () => assert.unreachable('only 1 core is free'),
    (error) => assert.is((error as DomainError).code, 'INSUFFICIENT_CAPACITY'),
  );
});

test.after(async () => {
  for (const s of stores) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test.run();
