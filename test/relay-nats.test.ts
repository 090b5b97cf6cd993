/**
 * The relay against a real nats-server, killed with SIGKILL again and again while events are appended:
 * a durable consumer must see every event exactly once, in order within each stream.
 *
 * The stream's duplicate window is set to a fraction of a second, so JetStream's de-duplication cannot hide a
 * republished event: the relay's checkpoint and its resume-after-the-bus's-high-water rule must do it alone.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../core/testing/example-account.ts';
import { newEvent } from '../core/testing/events.ts';
import { SqliteEventStore } from '../core/event-store/sqlite.ts';
import { connectNatsBus } from '../core/bus/nats.ts';
import { RELAY_HEADERS, eventFromMessage, startRelay } from '../core/relay.ts';
import { MemoryCheckpointStore } from '../core/checkpoint.ts';
import { startNatsServer } from './harness/nats-server.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const STREAMS = 12;
const MIN_EVENTS = 1_000;
const KILLS = 6;
const DUPLICATE_WINDOW_MS = 200;

const children = new Set<ChildProcess>();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

function startChild(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/relay-child.ts'], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay child not ready within 20 s:\n${out}`)), 20_000);
    const check = () => { if (/^ready/m.test(out)) { clearTimeout(timer); child.stdout!.off('data', check); resolve({ child, output: () => out }); } };
    child.stdout!.on('data', check);
    child.once('exit', (code, signal) => { clearTimeout(timer); if (!/^ready/m.test(out)) reject(new Error(`relay child exited (${code ?? signal}) before ready:\n${out}`)); });
  });
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => { child.once('exit', () => resolve()); child.kill('SIGKILL'); });
}

test('relay killed with SIGKILL during an append stream: a durable consumer sees each event exactly once', async () => {
  const started = Date.now();
  const server = await startNatsServer();
  const dir = mkdtempSync(join(tmpdir(), 'ledger-relay-'));
  const db = join(dir, 'events.sqlite');
  const env = {
    RELAY_DB: db, RELAY_CHECKPOINTS: join(dir, 'checkpoints.sqlite'), LEDGER_NATS_URL: server.url,
    RELAY_STREAM: 'LEDGER', RELAY_DUPLICATE_WINDOW_MS: String(DUPLICATE_WINDOW_MS), RELAY_CHECKPOINT_DELAY_MS: '30',
  };
  const store = new SqliteEventStore({ path: db });
  const bus = await connectNatsBus({ servers: server.url, stream: 'LEDGER', duplicateWindowMs: DUPLICATE_WINDOW_MS });
  const deliveries = new Map<string, number>();
  const lastRevision = new Map<string, number>();
  const outOfOrder: string[] = [];
  const sub = await bus.subscribe('ledger.test.Account.>', (m) => {
    const e = eventFromMessage(m);
    assert.is(m.msgId, e.metadata.eventId);
    assert.is(m.headers[RELAY_HEADERS.position], String(e.position));
    deliveries.set(e.metadata.eventId, (deliveries.get(e.metadata.eventId) ?? 0) + 1);
    const prev = lastRevision.get(e.streamId) ?? -1;
    if (e.revision !== prev + 1) outOfOrder.push(`${e.streamId}: ${prev} then ${e.revision}`);
    lastRevision.set(e.streamId, Math.max(prev, e.revision));
  }, { durable: 'relay_kill_test' });

  let current: Awaited<ReturnType<typeof startChild>> | null = null;
  try {
    // Appends: one event at a time across a dozen streams, for as long as the kills go on (and at least MIN_EVENTS).
    let appended = 0;
    let killing = true;
    const writer = (async () => {
      for (let s = 0; s < STREAMS; s++) await store.append(`Account-k${s}`, [newEvent('AccountOpened', { owner: `o${s}` })], { expected: 'no_stream' });
      appended = STREAMS;
      while (killing || appended < MIN_EVENTS) {
        await store.append(`Account-k${appended % STREAMS}`, [newEvent('Deposited', { amount: appended })]);
        appended++;
        if (appended % 4 === 0) await sleep(8);
      }
    })();

    // Kill the relay at random moments while the appends run, and start it again each time.
    let kills = 0;
    let backlogAtStart = 0;
    let resumedFromBus = 0;
    const outputs: string[] = [];
    current = await startChild(env);
    while (kills < KILLS) {
      await sleep(150 + Math.floor(Math.random() * 350));
      await kill(current.child);
      outputs.push(current.output());
      kills++;
      current = await startChild(env);
      const after = Number(/^ready after (\d+)/m.exec(current.output())?.[1]);
      if (after < (await store.headPosition())) backlogAtStart++;
    }
    killing = false;
    await writer;
    outputs.push(current.output());
    resumedFromBus = outputs.join('\n').split('already on the bus').length - 1;
    const EVENTS = await store.headPosition();
    assert.is(EVENTS, appended);
    // The kills landed while there was work to do (not after the appends were over).
    assert.ok(backlogAtStart >= KILLS / 2, `only ${backlogAtStart} of ${KILLS} restarts found events waiting`);
    console.log(`  ${EVENTS} events, ${KILLS} kills; ${backlogAtStart} restarts found a backlog, ${resumedFromBus} resumed past the checkpoint from the bus's high water`);

    // The last relay catches up; the consumer must reach every event, then nothing more may arrive.
    const deadline = Date.now() + 20_000;
    while (deliveries.size < EVENTS && Date.now() < deadline) await sleep(20);
    await sleep(DUPLICATE_WINDOW_MS * 3 + 300);

    current.child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => current!.child.once('exit', (c) => r(c)));
    assert.is(code, 0, `graceful stop failed:\n${current.output()}`);
    assert.match(current.output(), /stopped at \d+/);

    const all = await store.readAll({ maxCount: EVENTS + 10 });
    const missing = all.filter((e) => !deliveries.has(e.metadata.eventId));
    const doubled = [...deliveries.entries()].filter(([, n]) => n > 1);
    assert.is(missing.length, 0, `${missing.length} events never arrived (first at position ${missing[0]?.position})`);
    assert.is(doubled.length, 0, `${doubled.length} events arrived more than once`);
    assert.is(deliveries.size, EVENTS);
    assert.equal(outOfOrder, [], 'events of a stream arrived out of revision order');
    const state = await bus.streamState();
    assert.is(state.messages, EVENTS, 'the JetStream stream holds each event once');
    assert.ok(kills === KILLS);
    assert.ok(Date.now() - started < 55_000, `took ${Date.now() - started} ms`);
  } finally {
    if (current) await kill(current.child);
    await sub.close().catch(() => undefined);
    await bus.close().catch(() => undefined);
    await store.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the relay rides out a nats-server restart: every event once, in order', async () => {
  const server = await startNatsServer();
  const store = new SqliteEventStore({ path: ':memory:', pollIntervalMs: 10 });
  const relayBus = await connectNatsBus({ servers: server.url, publishTimeoutMs: 1_000, log: () => {} });
  const bus = await connectNatsBus({ servers: server.url, log: () => {} });
  const seen = new Map<string, number>();
  const order: number[] = [];
  const sub = await bus.subscribe('ledger.test.Account.>', (m) => {
    seen.set(m.msgId!, (seen.get(m.msgId!) ?? 0) + 1);
    order.push(Number(m.headers[RELAY_HEADERS.position]));
  }, { durable: 'relay_restart_test' });
  const relay = await startRelay({ store, bus: relayBus, checkpoints: new MemoryCheckpointStore(), batchSize: 10, log: () => {} });
  try {
    await store.append('Account-rs1', [newEvent('AccountOpened', { owner: 'ann' })]);
    const writer = (async () => {
      for (let i = 1; i < 300; i++) {
        await store.append('Account-rs1', [newEvent('Deposited', { amount: i })]);
        if (i % 5 === 0) await sleep(5);
      }
    })();
    await sleep(300);
    await server.restart();
    await writer;
    await relay.waitFor(await store.headPosition(), 30_000);
    const deadline = Date.now() + 15_000;
    while (seen.size < 300 && Date.now() < deadline) await sleep(20);
    await sleep(300);
    assert.is(seen.size, 300);
    assert.ok([...seen.values()].every((n) => n === 1), 'an event arrived twice');
    assert.equal(order, Array.from({ length: 300 }, (_, i) => i + 1), 'out of order');
    assert.is((await bus.streamState()).messages, 300);
  } finally {
    await relay.stop();
    await sub.close().catch(() => undefined);
    await Promise.all([relayBus.close().catch(() => undefined), bus.close().catch(() => undefined)]);
    await store.close();
    await server.stop();
  }
});

test.run();
