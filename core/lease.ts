/**
 * Leases with fencing tokens: where a role must be single (the relay, the projector), leadership is a lease on a
 * NATS JetStream KV key; the key's revision at acquisition is the fencing token. Tokens grow monotonically (they are
 * stream sequences of the bucket), so a write store that remembers the highest token it has seen can refuse a
 * paused or partitioned old leader (see core/fence.ts) — leases alone can never guarantee that, because a process
 * can be paused between checking its lease and writing.
 *
 * Protocol (no clock is compared across machines; each side only measures its own monotonic clock):
 * - acquire: `create(key)` when the key is absent or deleted; otherwise a contender watches the entry's revision
 *   and, once the SAME revision has been in place for the holder's TTL as measured on the contender's clock since
 *   it first saw it, takes it over with `update(key, value, thatRevision)` (compare-and-set: one contender wins);
 * - renew: the holder `update`s with its last revision every TTL/3. A renewal sent at t makes the lease valid until
 *   t + TTL − margin on the holder's clock; a contender first saw that revision after it was written, i.e. after t,
 *   and waits TTL from then: the holder's validity ends first (clock rates may differ by `margin`);
 * - lost: a failed compare-and-set (someone took over), or validity running out without a renewal (NATS
 *   unreachable, or the process was paused: SIGSTOP, a long GC) → `signal` aborts, and stays aborted: the role must
 *   stop and contend again with a new lease;
 * - release: delete the key at our revision, so a contender can `create` it at once.
 */
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { hostname } from 'node:os';
import { readFileSync, readlinkSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';

// ---------------------------------------------------------------------------------------------------------------
// Pure decisions (tested in core/lease.test.ts)

/** What a holder writes into the key. `ttlMs` is advertised so contenders wait the holder's TTL, not their own. */
export const LeaseValue = z.object({
  holder: z.string().min(1),
  ttlMs: z.number().int().positive(),
  acquiredAt: z.string(),
  /** Where the holder runs: boot id and pid namespace (Linux), so a process on the same machine can check its pid. */
  node: z.string().optional(),
  pid: z.number().int().positive().optional(),
});
export type LeaseValue = z.infer<typeof LeaseValue>;

/** A contender's observation of someone else's entry: the revision and when (on its own clock) it first saw it. */
export interface Observation { revision: number; since: number; ttlMs: number }

/** Folds what a contender reads into its observation: the clock restarts whenever the revision changes. */
export function observe(previous: Observation | null, entry: { revision: number; ttlMs: number } | null, now: number): Observation | null {
  if (!entry) return null;
  if (previous && previous.revision === entry.revision) return { ...previous, ttlMs: Math.max(previous.ttlMs, entry.ttlMs) };
  return { revision: entry.revision, since: now, ttlMs: entry.ttlMs };
}

/** May a contender take over the entry it observed? Only once that revision has stood for the TTL plus a margin. */
export function mayTakeOver(observation: Observation, now: number, marginMs: number): boolean {
  return now - observation.since >= observation.ttlMs + marginMs;
}

/** Until when (holder's clock) a renewal sent at `sentAt` keeps the lease valid. */
export function validUntil(sentAt: number, ttlMs: number, marginMs: number): number {
  return sentAt + ttlMs - marginMs;
}

/** Is a lease valid at `now`? Strictly before its end: at the end a contender may already be taking over. */
export function isValidAt(now: number, until: number): boolean {
  return now < until;
}

/**
 * Is the holder surely dead? Only when it ran in this very kernel boot and pid namespace and its pid is gone: then
 * it can never write again, and a standby need not wait out its TTL (a restart after SIGKILL recovers at once).
 * Anything else (another machine, another container, a pid that exists — even if reused) waits out the TTL.
 */
export function holderIsGone(value: Pick<LeaseValue, 'node' | 'pid'>, ourNode: string | null, pidExists: (pid: number) => boolean): boolean {
  return !!ourNode && value.node === ourNode && value.pid !== undefined && !pidExists(value.pid);
}

/** This process's boot id and pid namespace, or null where they cannot be read (not Linux). */
export function localNode(): string | null {
  try {
    return `${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()}/${readlinkSync('/proc/self/ns/pid')}`;
  } catch { return null; }
}

export function pidExists(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (error) { return (error as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Unreadable or foreign values count as held for the default TTL (never take over faster than the protocol allows). */
export function parseLeaseValue(bytes: Uint8Array | string, fallbackTtlMs: number): LeaseValue {
  try {
    const text = typeof bytes === 'string' ? bytes : new TextDecoder().decode(bytes);
    const parsed = LeaseValue.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
  } catch { /* fall through */ }
  return { holder: '?', ttlMs: fallbackTtlMs, acquiredAt: '?' };
}

// ---------------------------------------------------------------------------------------------------------------
// The lease

/** What a leader needs to fence its writes. */
export interface Fence {
  /** The fencing token (0 for the in-process lease of the embedded profile, where nobody else competes). */
  readonly token: number;
  /** Synchronous check on the local monotonic clock; false once the lease is lost or expired. */
  isValid(): boolean;
}

export interface Lease extends Fence {
  readonly name: string;
  readonly holder: string;
  /** Aborted when the lease is lost (taken over, or not renewed in time); its reason says why. */
  readonly signal: AbortSignal;
  /** Gives the lease up (deletes the key if it is still ours), so a contender takes over at once. Idempotent. */
  release(): Promise<void>;
}

export class LeaseLostError extends Error {
  readonly code = 'LEASE_LOST';
  constructor(readonly lease: string, reason: string) {
    super(`lease ${lease} lost: ${reason}`);
    this.name = 'LeaseLostError';
  }
}

export interface LeaseOptions {
  /** Lease name, e.g. `relay`, `projector` (the KV key is `lease.<name>`). */
  name: string;
  /** Who holds it (shown to others). Default `<hostname>:<pid>`. */
  holder?: string;
  /** Lease TTL: how long a silent holder keeps it. Default 5000 ms. */
  ttlMs?: number;
  /** How often a contender looks at the key. Default min(500, ttl/4) ms. */
  pollMs?: number;
  /** Allowance for clock-rate differences and delays. Default max(50, ttl/20) ms. */
  marginMs?: number;
  /** Stops waiting (acquire rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Progress lines (waiting, acquired, lost). */
  log?: (line: string) => void;
  /** Monotonic clock in ms. Default performance.now (keeps running while the process is stopped). Tests inject one. */
  clock?: () => number;
}

export const LEASE_BUCKET = 'ledger-leases';
const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  if (signal?.aborted) return resolve();
  const t = setTimeout(done, ms);
  function done() { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); }
  signal?.addEventListener('abort', done, { once: true });
});
const isWrongRevision = (e: unknown) => e instanceof JetStreamApiError
  && (e.code === JetStreamApiCodes.StreamWrongLastSequence || e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Opens (creating when missing) the leases bucket: one value per key, file storage. */
export async function openLeaseBucket(nc: NatsConnection, bucket = LEASE_BUCKET): Promise<KV> {
  return new Kvm(nc).create(bucket, { history: 1, storage: 'file' } as any);
}

/**
 * Waits until this process holds the lease, then keeps renewing it until it is released or lost.
 * Rejects only when `options.signal` aborts.
 */
export async function acquireLease(kv: KV, options: LeaseOptions): Promise<Lease> {
  const name = options.name;
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(name)) throw new Error(`lease name ${JSON.stringify(name)}: use 1-100 of [A-Za-z0-9_-]`);
  const key = `lease.${name}`;
  const holder = options.holder ?? `${hostname()}:${process.pid}`;
  const ttlMs = options.ttlMs ?? 5_000;
  const pollMs = options.pollMs ?? Math.min(500, Math.max(10, Math.floor(ttlMs / 4)));
  const marginMs = options.marginMs ?? Math.max(50, Math.floor(ttlMs / 20));
  if (ttlMs <= 3 * marginMs) throw new Error(`lease ${name}: ttl ${ttlMs} ms is too short for a margin of ${marginMs} ms`);
  const clock = options.clock ?? (() => performance.now());
  const log = options.log ?? (() => {});
  const node = localNode();
  const value = () => JSON.stringify({ holder, ttlMs, acquiredAt: new Date().toISOString(), ...(node && { node, pid: process.pid }) } satisfies LeaseValue);

  let observed: Observation | null = null;
  let reported = '';
  for (;;) {
    if (options.signal?.aborted) throw options.signal.reason ?? new Error(`lease ${name}: stopped waiting`);
    const sentAt = clock();
    let revision: number | null = null;
    try {
      const entry: KvEntry | null = await kv.get(key);
      const live = entry && entry.operation === 'PUT' ? entry : null;
      if (!live) {
        revision = await kv.create(key, value());
      } else {
        const current = parseLeaseValue(live.value, ttlMs);
        observed = observe(observed, { revision: live.revision, ttlMs: current.ttlMs }, clock());
        if (holderIsGone(current, node, pidExists)) {
          revision = await kv.update(key, value(), live.revision);
          log(`lease ${name}: took over from ${current.holder}: its process ${current.pid} is gone from this machine`);
        } else if (mayTakeOver(observed!, clock(), marginMs)) {
          revision = await kv.update(key, value(), live.revision);
          log(`lease ${name}: took over from ${current.holder} (silent for ${Math.round(clock() - observed!.since)} ms)`);
        } else if (reported !== current.holder) {
          reported = current.holder;
          log(`lease ${name}: held by ${current.holder}; standing by`);
        }
      }
    } catch (error) {
      const problem = `lease ${name}: cannot reach the lease bucket: ${message(error)}`;
      if (!isWrongRevision(error) && problem !== reported) { reported = problem; log(problem); } // once per kind of problem
      // else: another contender won the race; observe its entry on the next round
    }
    if (revision !== null) return holdLease(kv, { name, key, holder, ttlMs, marginMs, clock, log, value, revision, sentAt });
    await sleep(pollMs, options.signal);
  }
}

function holdLease(kv: KV, s: {
  name: string; key: string; holder: string; ttlMs: number; marginMs: number; clock: () => number;
  log: (line: string) => void; value: () => string; revision: number; sentAt: number;
}): Lease {
  const controller = new AbortController();
  const token = s.revision;
  let revision = s.revision;
  let until = validUntil(s.sentAt, s.ttlMs, s.marginMs);
  let released = false;
  let timer: NodeJS.Timeout | undefined;
  let expiry: NodeJS.Timeout | undefined;

  const lose = (reason: string) => {
    if (controller.signal.aborted) return;
    clearTimeout(timer);
    clearTimeout(expiry);
    s.log(`lease ${s.name}: lost (token ${token}): ${reason}`);
    controller.abort(new LeaseLostError(s.name, reason));
    // If nobody took it over yet, free it now rather than make the others wait a whole TTL (a no-op otherwise).
    kv.delete(s.key, { previousSeq: revision }).catch(() => undefined);
  };
  const isValid = () => {
    if (controller.signal.aborted) return false;
    if (isValidAt(s.clock(), until)) return true;
    lose(`not renewed in time (valid until ${Math.round(until)}, now ${Math.round(s.clock())} on this process's clock)`);
    return false;
  };
  // Expiry is checked on a timer too, so a process that wakes from a pause learns it at once, before doing anything else.
  const armExpiry = () => {
    clearTimeout(expiry);
    expiry = setTimeout(() => { if (isValid()) armExpiry(); }, Math.max(0, until - s.clock()) + 1);
  };
  const renew = async () => {
    if (!isValid() || released) return;
    const sentAt = s.clock();
    try {
      revision = await kv.update(s.key, s.value(), revision);
      if (controller.signal.aborted) return;
      until = validUntil(sentAt, s.ttlMs, s.marginMs);
      armExpiry();
    } catch (error) {
      if (isWrongRevision(error)) return lose('another holder took it over');
      s.log(`lease ${s.name}: renewal failed, retrying: ${message(error)}`);
    }
    if (!controller.signal.aborted && !released) timer = setTimeout(() => void renew(), Math.max(10, Math.floor(s.ttlMs / 3)));
  };
  armExpiry();
  timer = setTimeout(() => void renew(), Math.max(10, Math.floor(s.ttlMs / 3)));
  s.log(`lease ${s.name}: acquired by ${s.holder} with fencing token ${token}`);

  return {
    name: s.name, holder: s.holder, token, signal: controller.signal, isValid,
    async release() {
      if (released) return;
      released = true;
      clearTimeout(timer);
      clearTimeout(expiry);
      const wasValid = !controller.signal.aborted;
      if (!controller.signal.aborted) controller.abort(new LeaseLostError(s.name, 'released'));
      if (!wasValid) return;
      // Only if it is still ours: a delete at our revision fails when someone took over meanwhile.
      await kv.delete(s.key, { previousSeq: revision }).catch(() => undefined);
      s.log(`lease ${s.name}: released (token ${token})`);
    },
  };
}

/**
 * The lease of the embedded profile: one process owns everything, nobody competes. Token 0 always passes a fence
 * (fences start at 0), and it never expires.
 */
export function inProcessLease(name: string): Lease {
  const controller = new AbortController();
  return {
    name, holder: `in-process:${process.pid}`, token: 0, signal: controller.signal,
    isValid: () => !controller.signal.aborted,
    async release() { if (!controller.signal.aborted) controller.abort(new LeaseLostError(name, 'released')); },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// A role that runs only while it holds the lease

/** A running single role: how to stop it, and (optional) a promise that settles if it stops by itself (fenced off). */
export interface LeaderRole {
  stop(): Promise<void>;
  failed?: Promise<unknown>;
}

const aborted = (signal: AbortSignal) => new Promise<unknown>((resolve) => {
  if (signal.aborted) resolve(signal.reason);
  else signal.addEventListener('abort', () => resolve(signal.reason), { once: true });
});

/**
 * Contends for the lease; while held, runs the role started by `start(lease)`; when the lease is lost or the role
 * was fenced off, stops it and contends again (standby). Returns when `options.signal` aborts (shutdown), after
 * stopping the role and releasing the lease.
 */
export async function runWhileLeader(kv: KV, options: LeaseOptions & { signal: AbortSignal }, start: (lease: Lease) => Promise<LeaderRole>): Promise<void> {
  const log = options.log ?? (() => {});
  const shutdown = options.signal;
  const shuttingDown = aborted(shutdown);
  // After losing the lease or being fenced off, let a standby have it before contending again.
  const backOffMs = Math.max(1_000, 2 * (options.pollMs ?? 500));
  while (!shutdown.aborted) {
    let lease: Lease;
    try { lease = await acquireLease(kv, options); } catch (error) {
      if (shutdown.aborted) return;
      throw error;
    }
    let role: LeaderRole | undefined;
    try {
      role = await start(lease);
    } catch (error) {
      // Fenced off, or the role could not start (e.g. its database is locked by a paused old leader): give the
      // lease back and contend again after a pause, rather than exit.
      await lease.release();
      log(`lease ${lease.name}: could not start as leader (standing by): ${message(error)}`);
      await sleep(backOffMs, shutdown);
      continue;
    }
    const why = await Promise.race([aborted(lease.signal), shuttingDown, role.failed ?? new Promise(() => {})]);
    await role.stop().catch((e) => log(`lease ${lease.name}: stopping the role: ${message(e)}`));
    await lease.release();
    if (shutdown.aborted) return;
    log(`lease ${lease.name}: no longer leader (${message(why)}); standing by`);
    await sleep(backOffMs, shutdown);
  }
}
