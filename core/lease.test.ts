/**
 * Leases and fences: the pure decisions, then against a real nats-server — one leader among contenders, hand-over on
 * release, takeover from a holder cut off from NATS (which learns it lost before the other starts), and fencing of a
 * holder that still believes it leads (frozen clock) — its KV checkpoint and SQLite writes are refused.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Database from 'better-sqlite3';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { spawn } from 'node:child_process';
import {
  acquireLease, holderIsGone, isValidAt, LeaseLostError, mayTakeOver, observe, openLeaseBucket, parseLeaseValue, runWhileLeader, validUntil,
  type Lease,
} from './lease.ts';
import { fenceAdmits, FencedError, KvCheckpointStore, openCheckpointBucket, SqliteFence } from './fence.ts';
import { startNatsServer, type NatsServerHandle } from '../test/harness/nats-server.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- pure -------------------------------------------------------------------------------------------------------

test('observe: the clock starts when a revision is first seen and restarts when it changes', () => {
  const a = observe(null, { revision: 7, ttlMs: 1000 }, 100)!;
  assert.equal(a, { revision: 7, since: 100, ttlMs: 1000 });
  assert.equal(observe(a, { revision: 7, ttlMs: 1000 }, 900), a);              // same revision: same start
  assert.equal(observe(a, { revision: 8, ttlMs: 1000 }, 900), { revision: 8, since: 900, ttlMs: 1000 }); // renewed
  assert.is(observe(a, null, 900), null);                                      // gone: create, no waiting
  assert.is(observe(a, { revision: 7, ttlMs: 3000 }, 900)!.ttlMs, 3000);       // the longer advertised TTL wins
});

test('mayTakeOver only after the TTL plus margin has passed on the contender\'s clock', () => {
  const o = { revision: 3, since: 1000, ttlMs: 500 };
  assert.is(mayTakeOver(o, 1549, 50), false);
  assert.is(mayTakeOver(o, 1550, 50), true);
});

test('a holder\'s validity ends before any contender may take over (renewal sent before the contender saw it)', () => {
  const ttl = 1000, margin = 50;
  for (const [sentAt, seenAt] of [[0, 0], [0, 1], [10, 400], [100, 100]]) {
    const until = validUntil(sentAt, ttl, margin);
    const o = observe(null, { revision: 1, ttlMs: ttl }, seenAt)!;
    for (let t = sentAt; t < sentAt + 3 * ttl; t++) {
      if (mayTakeOver(o, t, margin)) assert.ok(!isValidAt(t, until), `both at ${t}`);
    }
  }
  assert.is(isValidAt(949, validUntil(0, 1000, 50)), true);
  assert.is(isValidAt(950, validUntil(0, 1000, 50)), false);
});

test('an unreadable lease value counts as held for the default TTL', () => {
  assert.equal(parseLeaseValue('not json', 5000), { holder: '?', ttlMs: 5000, acquiredAt: '?' });
  assert.equal(parseLeaseValue(JSON.stringify({ holder: 'a', ttlMs: 700, acquiredAt: 'x' }), 5000).ttlMs, 700);
});

test('holderIsGone: only a holder of this boot and pid namespace whose pid no longer exists', () => {
  const none = () => false;
  const all = () => true;
  assert.is(holderIsGone({ node: 'boot/pid:[1]', pid: 42 }, 'boot/pid:[1]', none), true);
  assert.is(holderIsGone({ node: 'boot/pid:[1]', pid: 42 }, 'boot/pid:[1]', all), false);   // alive (or pid reused): wait
  assert.is(holderIsGone({ node: 'boot/pid:[2]', pid: 42 }, 'boot/pid:[1]', none), false);  // another container
  assert.is(holderIsGone({ node: 'other/pid:[1]', pid: 42 }, 'boot/pid:[1]', none), false); // another machine or boot
  assert.is(holderIsGone({}, 'boot/pid:[1]', none), false);                                 // says nothing: wait
  assert.is(holderIsGone({ node: 'boot/pid:[1]', pid: 42 }, null, none), false);             // we cannot tell
});

test('fenceAdmits: equal or newer tokens write, older ones do not', () => {
  assert.is(fenceAdmits(undefined, 0), true);
  assert.is(fenceAdmits(5, 5), true);
  assert.is(fenceAdmits(5, 6), true);
  assert.is(fenceAdmits(5, 4), false);
});

test('SqliteFence: raises to the newest token, refuses an older one inside the transaction (rolled back)', () => {
  const db = new Database(':memory:');
  const fence = new SqliteFence(db);
  db.exec('CREATE TABLE t (v INTEGER)');
  const write = (token: number, v: number) => db.transaction(() => { fence.check('p', token); db.prepare('INSERT INTO t VALUES (?)').run(v); })();
  write(3, 1);
  write(7, 2);
  assert.throws(() => write(3, 3), (e: unknown) => e instanceof FencedError && e.token === 3 && e.current === 7);
  write(7, 4);
  assert.equal(db.prepare('SELECT v FROM t ORDER BY v').pluck().all(), [1, 2, 4]);
  assert.is(fence.current('p'), 7);
  db.close();
});

// ---- against nats-server -----------------------------------------------------------------------------------------

let nats: NatsServerHandle;
const conns: NatsConnection[] = [];
const conn = async () => { const c = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 }); conns.push(c); return c; };

test.before(async () => { nats = await startNatsServer(); });
test.after(async () => { for (const c of conns) await c.close().catch(() => {}); await nats.stop(); });

test('two contenders: one leader; release hands over at once with a higher token', async () => {
  const kv = await openLeaseBucket(await conn());
  const a = await acquireLease(kv, { name: 'two', holder: 'a', ttlMs: 1000 });
  let b: Lease | null = null;
  const waiting = acquireLease(kv, { name: 'two', holder: 'b', ttlMs: 1000, pollMs: 20 }).then((l) => { b = l; return l; });
  await sleep(2500); // > 2 TTLs: a keeps renewing, so b must still be waiting
  assert.is(b, null);
  assert.ok(a.isValid());
  const released = performance.now();
  await a.release();
  assert.is(a.isValid(), false);
  const lb = await waiting;
  const handover = performance.now() - released;
  assert.ok(handover < 500, `hand-over took ${handover} ms`);
  assert.ok(lb.token > a.token, `${lb.token} > ${a.token}`);
  await lb.release();
});

test('a holder cut off from NATS loses its lease before the other takes over; the new token is higher', async () => {
  const ncA = await conn();
  const kvA = await openLeaseBucket(ncA);
  const kvB = await openLeaseBucket(await conn());
  const ttlMs = 1000;
  const a = await acquireLease(kvA, { name: 'cut', holder: 'a', ttlMs });
  let aLostAt = 0;
  a.signal.addEventListener('abort', () => { aLostAt = performance.now(); });
  const cutAt = performance.now();
  await ncA.close(); // a can no longer renew
  const b = await acquireLease(kvB, { name: 'cut', holder: 'b', ttlMs, pollMs: 50 });
  const bAt = performance.now();
  assert.ok(aLostAt > 0 && aLostAt <= bAt, `a lost at ${aLostAt}, b acquired at ${bAt}`);
  assert.ok(a.signal.reason instanceof LeaseLostError);
  assert.ok(b.token > a.token);
  console.log(`  takeover after the holder was cut off: ${Math.round(bAt - cutAt)} ms (TTL ${ttlMs} ms)`);
  assert.ok(bAt - cutAt >= ttlMs * 0.9 && bAt - cutAt < ttlMs + 1000, `${bAt - cutAt}`);
  await b.release();
});

test('fencing: a holder that still believes it leads (frozen clock, cut off from the lease) is refused by every fenced store', async () => {
  const leaseConnA = await conn();
  const kvLeaseA = await openLeaseBucket(leaseConnA);
  const kvLeaseB = await openLeaseBucket(await conn());
  const checkpointKv = await openCheckpointBucket(await conn());
  const frozen = () => 0; // a's clock stands still: its own check always says "valid" (a paused or badly skewed process)
  const a = await acquireLease(kvLeaseA, { name: 'fenced', holder: 'a', ttlMs: 800, clock: frozen });
  const db = new Database(':memory:');
  const fence = new SqliteFence(db);
  db.exec('CREATE TABLE applied (v TEXT)');
  const write = (lease: Lease, v: string) => db.transaction(() => { fence.check('p', lease.token); db.prepare('INSERT INTO applied VALUES (?)').run(v); })();
  const aCheckpoints = new KvCheckpointStore(checkpointKv, a);
  await aCheckpoints.save('relay', 10);
  write(a, 'a1');

  await leaseConnA.close();
  const b = await acquireLease(kvLeaseB, { name: 'fenced', holder: 'b', ttlMs: 800, pollMs: 20 });
  assert.ok(a.isValid(), 'a still believes it leads');
  const bCheckpoints = new KvCheckpointStore(checkpointKv, b);
  await bCheckpoints.save('relay', 12);
  write(b, 'b1');

  let refused: unknown;
  try { await aCheckpoints.save('relay', 11); } catch (e) { refused = e; }
  assert.ok(refused instanceof FencedError, String(refused));
  assert.throws(() => write(a, 'a2'), (e: unknown) => e instanceof FencedError);
  assert.is(await bCheckpoints.load('relay'), 12, 'no regression of the checkpoint');
  assert.is(await bCheckpoints.token('relay'), b.token);
  assert.equal(db.prepare('SELECT v FROM applied').pluck().all(), ['a1', 'b1']);
  await a.release(); // its renewals would go on failing forever (frozen clock): stop them
  await b.release();
  db.close();
});

test('a holder SIGKILLed on this machine is taken over at once, not after its TTL', async () => {
  const ttlMs = 10_000;
  const script = `import { connect } from '@nats-io/transport-node';
    import { acquireLease, openLeaseBucket } from './core/lease.ts';
    const kv = await openLeaseBucket(await connect({ servers: ${JSON.stringify(nats.url)} }));
    const lease = await acquireLease(kv, { name: 'killed', holder: 'child', ttlMs: ${ttlMs} });
    console.log('token ' + lease.token);
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  const deadline = Date.now() + 30_000;
  while (!/token \d+/.test(out) && Date.now() < deadline) await sleep(20);
  assert.match(out, /token \d+/);
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
  const kv = await openLeaseBucket(await conn());
  const started = performance.now();
  const lease = await acquireLease(kv, { name: 'killed', holder: 'successor', ttlMs: 1000, pollMs: 20 });
  const took = performance.now() - started;
  assert.ok(took < ttlMs / 4, `took over in ${took} ms, the dead holder's TTL was ${ttlMs} ms`);
  console.log(`  takeover from a SIGKILLed holder on this machine: ${Math.round(took)} ms (its TTL ${ttlMs} ms)`);
  assert.ok(lease.token > Number(/token (\d+)/.exec(out)![1]));
  await lease.release();
});

test('runWhileLeader: the role runs only while leading, stops when fenced, and a standby takes over', async () => {
  const kv1 = await openLeaseBucket(await conn());
  const kv2 = await openLeaseBucket(await conn());
  const running = new Set<string>();
  const overlaps: string[] = [];
  const role = (who: string, fenceAfterMs?: number) => async (lease: Lease) => {
    if (running.size) overlaps.push(`${who} started while ${[...running]} ran`);
    running.add(who);
    const failed = fenceAfterMs === undefined ? undefined : sleep(fenceAfterMs).then(() => new FencedError('x', lease.token, lease.token + 1));
    return { failed, async stop() { running.delete(who); } };
  };
  const stop1 = new AbortController();
  const stop2 = new AbortController();
  const one = runWhileLeader(kv1, { name: 'role', holder: 'one', ttlMs: 600, pollMs: 20, signal: stop1.signal }, role('one', 300));
  await sleep(100);
  const two = runWhileLeader(kv2, { name: 'role', holder: 'two', ttlMs: 600, pollMs: 20, signal: stop2.signal }, role('two'));
  const deadline = Date.now() + 5000;
  while (!running.has('two') && Date.now() < deadline) await sleep(20);
  assert.ok(running.has('two'), 'the standby took over after the leader was fenced off');
  stop1.abort();
  stop2.abort();
  await Promise.all([one, two]);
  assert.equal(overlaps, []);
  assert.is(running.size, 0);
});

test.run();
