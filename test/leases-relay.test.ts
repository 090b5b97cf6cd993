/**
 * `ledger relay` under a lease, as real processes on a real nats-server: two relays, one leads; the leader is
 * SIGSTOPped past the TTL while events keep being appended, the standby takes over (takeover time printed); the old
 * one is SIGCONTed, finds it lost the lease and publishes nothing more. A durable consumer sees every event exactly
 * once and in order; the stream stores no duplicate; the KV checkpoint never moves back and, once written with the
 * new token, is never written with the old one again.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { startNatsServer } from './harness/nats-server.ts';
import { startRole } from './harness/roles.ts';
import { loadConfig } from '../core/config.ts';
import { openLedger } from '../core/ledger.ts';
import '../schema/index.ts';
import { ProjectsService } from '../layers/projects/service.ts';
import { connectNatsBus } from '../core/bus/nats.ts';
import { RELAY_HEADERS } from '../core/relay.ts';
import { CHECKPOINT_BUCKET } from '../core/fence.ts';
import { Kvm } from '@nats-io/kv';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TTL_MS = Number(process.env.LEASES_TEST_TTL_MS ?? 1500); // the takeover figure in the docs was also measured at 5000 (the default)

test('SIGSTOP of the leading relay: the standby takes over, nothing is lost or published twice, the checkpoint is fenced', async () => {
  const nats = await startNatsServer();
  const dir = mkdtempSync(join(tmpdir(), 'ledger-leases-relay-'));
  const ledger = await openLedger(loadConfig({ LEDGER_DATA_DIR: dir } as NodeJS.ProcessEnv), { project: false });
  const projects = new ProjectsService(ledger);
  const operator = { kind: 'operator' as const, id: 'leases-test' };
  const env = { LEDGER_NATS_URL: nats.url, LEDGER_DATA_DIR: dir, LEDGER_LEASE_TTL_MS: String(TTL_MS) };
  const bus = await connectNatsBus({ servers: nats.url });
  const nc = await connect({ servers: nats.url });
  const first = await startRole('relay', [], { env });
  const second = await startRole('relay', [], { env });
  let writing = true;
  let sampling = true;
  const problems: string[] = [];
  try {
    const leading = /as leader \(fencing token (\d+)\)/;
    const winner = await Promise.any([first, second].map((p) => p.waitFor(leading).then(() => p)));
    const [a, b] = winner === first ? [first, second] : [second, first];
    const [, tokenA] = a.output().match(leading)!;
    await b.waitFor(/held by .*; standing by/);

    // A durable consumer, as a scheduler would have: every event exactly once, in position order.
    const seen: number[] = [];
    const sub = await bus.subscribe('ledger.projects.>', (m) => { seen.push(Number(m.headers[RELAY_HEADERS.position])); }, { durable: 'leases_relay_check' });

    let n = 0;
    const write = async () => {
      while (writing) {
        await projects.createUser(operator, { name: `user ${n++}` });
        await sleep(10);
      }
    };
    const writer = write();

    // Sampler of the fenced checkpoint in KV.
    const kv = await new Kvm(nc).open(CHECKPOINT_BUCKET);
    const samples: { position: number; token: number }[] = [];
    const sampler = (async () => {
      while (sampling) {
        const e = await kv.get('checkpoint.relay').catch(() => null);
        if (e && e.operation === 'PUT') {
          const v = e.json<{ position: number; token: number }>();
          const last = samples[samples.length - 1];
          if (last && v.position < last.position) problems.push(`checkpoint moved back from ${last.position} to ${v.position}`);
          if (last && v.token < last.token) problems.push(`checkpoint written with token ${v.token} after ${last.token}`);
          samples.push(v);
        }
        await sleep(10);
      }
    })();

    await sleep(800);
    const fromB = b.printed();
    const stoppedAt = performance.now();
    a.signal('SIGSTOP'); // anywhere: between publishes, awaiting an ack, or saving the checkpoint
    const [, tokenB] = await b.waitFor(leading, { from: fromB, timeoutMs: 20_000 });
    const takeoverMs = performance.now() - stoppedAt;
    assert.ok(Number(tokenB) > Number(tokenA), `token ${tokenB} > ${tokenA}`);
    await sleep(1000);

    const fromA = a.printed();
    a.signal('SIGCONT');
    await a.waitFor(/no longer leader .*standing by/, { from: fromA, timeoutMs: 10_000 });
    await sleep(800);
    writing = false;
    await writer;

    const head = await ledger.store.headPosition();
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && seen.length < head) await sleep(50);
    await sleep(300); // anything extra (a duplicate) would arrive now
    sampling = false;
    await sampler;
    await sub.close();

    assert.equal(seen, Array.from({ length: head }, (_, i) => i + 1), 'every event once, in order');
    assert.is((await bus.streamState()).messages, head, 'the stream stores each event once');
    assert.equal(problems, []);
    assert.equal(samples[samples.length - 1], { position: head, token: Number(tokenB) });
    assert.not.match(a.since(fromA), leading, 'the old leader did not lead again');
    assert.ok(n > 30, `${n} events`);
    console.log(`  relay takeover after SIGSTOP: ${Math.round(takeoverMs)} ms (LEDGER_LEASE_TTL_MS=${TTL_MS}); ${head} events; fencing tokens ${tokenA} → ${tokenB}`);

    assert.is(await a.stop(), 0, a.output());
    assert.is(await b.stop(), 0, b.output());
  } finally {
    writing = false;
    sampling = false;
    await first.stop(2000);
    await second.stop(2000);
    await nc.close();
    await bus.close();
    await ledger.close();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
