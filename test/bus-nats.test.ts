/** The bus contract against a real nats-server -js (started by the harness), plus what only a server can show. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { busContract, until } from '../core/bus/contract.ts';
import { connectNatsBus } from '../core/bus/nats.ts';
import { BusError } from '../core/bus/port.ts';
import { openBus } from '../core/bus/open.ts';
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts';

let server: NatsServerHandle;
const contract = busContract('nats', async () => connectNatsBus({ servers: server.url, name: 'bus-contract' }));
contract.before(async () => { server = await startNatsServer(); });
contract.run();

const nats = suite('bus: nats server specifics');
nats.after(async () => { await server?.stop(); });

nats('the stream is created once with its subjects; a stream that does not store them is reported', async () => {
  const a = await connectNatsBus({ servers: server.url, stream: 'SPECIFIC', streamSubjects: ['spec.>'] });
  const b = await connectNatsBus({ servers: server.url, stream: 'SPECIFIC', streamSubjects: ['spec.>'] });
  const info = await a.jsm.streams.info('SPECIFIC');
  assert.equal(info.config.subjects, ['spec.>']);
  assert.is(info.config.storage, 'file');
  assert.is(info.config.duplicate_window, 120_000_000_000);
  await a.jsm.streams.add({ name: 'NARROW', subjects: ['narrow.>'] });
  try {
    await connectNatsBus({ servers: server.url, stream: 'NARROW', streamSubjects: ['narrow.>', 'wide.>'] });
    assert.unreachable('should refuse');
  } catch (e) {
    assert.instance(e, BusError);
    assert.match((e as Error).message, /does not store wide\.>/);
  }
  await a.jsm.streams.delete('SPECIFIC');
  await a.jsm.streams.delete('NARROW');
  await Promise.all([a.close(), b.close()]);
});

nats('openBus with a NATS URL connects to JetStream', async () => {
  const bus = await openBus({ natsUrl: server.url, name: 'open-bus-test' });
  assert.is(bus.kind, 'nats');
  assert.is((await bus.publish('ledger.open.x', { ok: true })).duplicate, false);
  await bus.close();
});

nats('no JetStream or no server: a clear error', async () => {
  try {
    await connectNatsBus({ servers: 'nats://127.0.0.1:1', connectTimeoutMs: 1_000 });
    assert.unreachable('should fail');
  } catch (e) {
    assert.match((e as Error).message, /cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/);
  }
});

nats('a durable consumer keeps its position and keeps receiving across a server restart', async () => {
  const bus = await connectNatsBus({ servers: server.url, stream: 'RESTART', streamSubjects: ['restart.>'] });
  const got: number[] = [];
  const sub = await bus.subscribe('restart.>', (m) => { got.push(m.json<{ i: number }>().i); }, { durable: 'restart_d' });
  for (let i = 1; i <= 5; i++) await bus.publish('restart.x', { i }, { msgId: `restart-${i}` });
  await until(() => got.length === 5, 5_000, 'five before the restart');
  await server.restart();
  // The client reconnects by itself; publishing waits for the PubAck, so retry while it comes back.
  for (let i = 6; i <= 10; i++) {
    for (let attempt = 0; ; attempt++) {
      try { await bus.publish('restart.x', { i }, { msgId: `restart-${i}`, timeoutMs: 2_000 }); break; } catch (e) {
        if (attempt > 20) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }
  await until(() => got.length >= 10, 20_000, 'five after the restart');
  await new Promise((r) => setTimeout(r, 300));
  await sub.close();
  assert.equal(got, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.is((await bus.streamState()).messages, 10);
  await bus.close();
});

nats.run();
