/**
 * Chaos: SIGKILL of one of two schedulers, and of the relay, while components are being requested and placed.
 *
 * Real processes: nats-server, `ledger relay`, `ledger scheduler` ×2 (s0, s1), one SQLite log. Forty contracts
 * (cloud hosts and 3-replica databases, 80 replicas) are requested over about four seconds. One second in, s0 and
 * the relay are killed with SIGKILL; the relay is started again a second later, s0 stays dead. The surviving
 * scheduler must finish every placement: a claim s0 made and never sliced is taken over after the placement
 * timeout, and the messages s0 held unacknowledged are covered by the survivor's sweep.
 * Over the log: every replica has exactly one live slice (nothing lost, nothing doubled), no incarnation sliced
 * twice, no host over capacity; the JetStream stream holds each event once (the restarted relay published nothing
 * twice and skipped nothing). Prints lost, doubled, and the time from the kill to the last placement.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connectNatsBus } from '../core/bus/nats.ts';
import { startPlacementRig, type PlacementRig } from './harness/placement-rig.ts';
import { sleep, until } from './harness/roles.ts';

const guard = setTimeout(() => { console.error('chaos-scheduler-relay-sigkill.test.ts: over 90 s, aborting'); process.exit(1); }, 90_000);
guard.unref();

let rig: PlacementRig | undefined;
test.after(async () => { await rig?.close(); });

test('SIGKILL of a scheduler and of the relay mid-placement: every replica placed once, by the survivor and the restarted relay', async () => {
  rig = await startPlacementRig({ schedulers: 2 });
  const ids: string[] = [];
  const requests = (async () => { for (let i = 0; i < 40; i++) { ids.push(await rig!.request(i)); await sleep(100); } })();
  await sleep(1000);
  const killedAt = Date.now();
  await Promise.all([rig.schedulers[0].kill(), rig.relay.kill()]);
  const requested = [...ids];
  const placedBeforeKill = requested.length - (await rig.unplaced(requested)).length;
  await sleep(1000);
  rig.relay = await rig.relay.restart();
  await requests;
  await until('every contract placed', async () => (await rig!.unplaced(ids)).length === 0, 45_000, 200).catch(async (e) => {
    const left = await rig!.unplaced(ids);
    const states = await rig!.states(left);
    throw new Error(`${e.message}\n${left.length} unplaced: ${[...states].slice(0, 5).map(([id, s]) => `${id} ${s.status} ${JSON.stringify(s.slots.map((x) => [x.state, x.epoch, x.placement?.hostId]))}`).join('\n')}\n--- s1:\n${rig!.schedulers[1].output().slice(-3000)}\n--- relay:\n${rig!.relay.output().slice(-1500)}`);
  });
  const recovery = (Date.now() - killedAt) / 1000;

  const check = await rig.check(ids);
  const head = await rig.ledger.store.headPosition();
  const bus = await connectNatsBus({ servers: rig.nats.url, log: () => {} });
  let inStream = 0;
  await until('the relay caught up with the log', async () => { inStream = (await bus.streamState()).messages; return inStream >= (await rig!.ledger.store.headPosition()); }, 15_000, 100);
  await bus.close();
  const survivor = rig.schedulers[1].output();
  console.log(`  ${ids.length} contracts, ${check.replicas} replicas (${placedBeforeKill} of ${requested.length} requested placed at the kill): lost ${check.lost.length}, doubled ${check.doubled.length}, `
    + `overcommits ${check.overcommits.length}; all placed ${recovery.toFixed(1)} s after the kill; stream ${inStream} messages for ${head}+ events`);
  assert.equal(check.lost, [], 'every replica has a live slice');
  assert.equal(check.doubled, [], 'no replica placed twice');
  assert.equal(check.overcommits, [], 'no host over capacity');
  assert.is(inStream, await rig.ledger.store.headPosition(), 'each event is in the JetStream stream exactly once');
  assert.match(rig.relay.output(), /relaying .* after position [1-9]\d*/, 'the restarted relay resumed from where the first one got');
  assert.not.match(survivor, /Error: |uncaught/i, 'the surviving scheduler logged no error');
});

test.run();
