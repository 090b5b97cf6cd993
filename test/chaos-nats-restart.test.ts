/**
 * Chaos: nats-server dies (SIGKILL) and comes back while components are being requested and placed.
 *
 * Real processes: nats-server (JetStream, file store), `ledger relay`, `ledger scheduler` ×2, one SQLite log.
 * Forty contracts (80 replicas) are requested over about four seconds; one second in, nats-server is killed and
 * started again 1.5 s later on the same port and store. Meanwhile the log keeps accepting requests (the event store
 * does not depend on the bus); the relay, the schedulers' durable consumers and their publishes reconnect.
 * Over the log: every replica has exactly one live slice (nothing lost, nothing doubled), no incarnation sliced
 * twice, no host over capacity; the JetStream stream holds each event exactly once after the restart.
 * Prints lost, doubled, and two recovery times: NATS back → relay caught up, NATS back → every contract placed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connectNatsBus } from '../core/bus/nats.ts';
import { startPlacementRig, type PlacementRig } from './harness/placement-rig.ts';
import { sleep, until } from './harness/roles.ts';

const guard = setTimeout(() => { console.error('chaos-nats-restart.test.ts: over 90 s, aborting'); process.exit(1); }, 90_000);
guard.unref();

let rig: PlacementRig | undefined;
test.after(async () => { await rig?.close(); });

test('nats-server killed and restarted mid-placement: no lost or doubled placement, no host overcommitted', async () => {
  rig = await startPlacementRig({ schedulers: 2 });
  const ids: string[] = [];
  const requests = (async () => { for (let i = 0; i < 40; i++) { ids.push(await rig!.request(i)); await sleep(100); } })();
  await sleep(1000);
  await rig.nats.kill();
  const requestedAtKill = ids.length;
  await sleep(1500);
  await rig.nats.restart();
  const backAt = Date.now();
  await requests;
  const lastRequestAt = Date.now();

  const bus = await connectNatsBus({ servers: rig.nats.url, log: () => {} });
  let relayCaughtUp = 0;
  let inStream = 0;
  await until('every contract placed', async () => {
    if (!relayCaughtUp) {
      inStream = (await bus.streamState()).messages;
      if (inStream >= (await rig!.ledger.store.headPosition())) relayCaughtUp = Date.now();
    }
    return (await rig!.unplaced(ids)).length === 0;
  }, 45_000, 200).catch(async (e) => {
    const left = await rig!.unplaced(ids);
    throw new Error(`${e.message}: ${left.length} unplaced (${left.slice(0, 5).join(', ')})\n--- s0:\n${rig!.schedulers[0].output().slice(-2000)}\n--- s1:\n${rig!.schedulers[1].output().slice(-2000)}\n--- relay:\n${rig!.relay.output().slice(-1500)}`);
  });
  const placedAt = Date.now();
  const placedAfter = (placedAt - backAt) / 1000;
  await until('the relay caught up with the log', async () => { inStream = (await bus.streamState()).messages; return inStream >= (await rig!.ledger.store.headPosition()); }, 15_000, 100);
  relayCaughtUp ||= Date.now();
  await bus.close();

  const check = await rig.check(ids);
  const head = await rig.ledger.store.headPosition();
  console.log(`  ${ids.length} contracts, ${check.replicas} replicas (${requestedAtKill} requested when NATS died): lost ${check.lost.length}, doubled ${check.doubled.length}, `
    + `overcommits ${check.overcommits.length}; NATS back → relay caught up ${((relayCaughtUp - backAt) / 1000).toFixed(1)} s, → all placed ${placedAfter.toFixed(1)} s (${((placedAt - lastRequestAt) / 1000).toFixed(1)} s after the last request); `
    + `stream ${inStream} messages for ${head} events`);
  assert.equal(check.lost, [], 'every replica has a live slice');
  assert.equal(check.doubled, [], 'no replica placed twice');
  assert.equal(check.overcommits, [], 'no host over capacity');
  assert.is(inStream, head, 'each event is in the JetStream stream exactly once');
  for (const p of [rig.relay, ...rig.schedulers]) assert.not.ok(p.exited, `ledger ${p.role} survived the NATS outage`);
});

test.run();
