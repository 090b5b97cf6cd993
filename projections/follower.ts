/**
 * The read side of SQLite read models that another process writes: in the distributed profile `ledger projector`
 * (the single, leased writer) folds the log into <data>/readmodels.sqlite, and every `ledger serve` only reads it.
 * The follower gives the API what the in-process runner gives it — `statuses()` for /readyz and /metrics and
 * `waitFor(position)` for read-your-writes — from the projector's checkpoints.
 *
 * A projection's checkpoint moves only when a batch held events it wants (its filter), so a checkpoint behind the
 * head does not mean the read model is behind: it is *at* position T when no event it wants lies between its
 * checkpoint and T. The follower proves that with one filtered read (`maxCount: 1`) and remembers how far it proved
 * it, so the next check only reads what is new.
 */
import type Database from 'better-sqlite3';
import type { EventStore } from '../core/event-store/port.ts';
import { digestOf, type ProjectionStatus, type SqliteProjection } from './runner.ts';

/** What the API needs from the read-model side, whether it runs the projections (runner) or follows them. */
export interface ReadModelProjections {
  readonly projections: SqliteProjection[];
  start(): void;
  statuses(): ProjectionStatus[];
  waitFor(position: number, timeoutMs?: number): Promise<void>;
  digest(name: string): string;
  stop(): Promise<void>;
}

interface Followed { status: ProjectionStatus; checkpoint: number; provenTo: number }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ProjectionFollower implements ReadModelProjections {
  private readonly followed = new Map<string, Followed>();
  private readonly pollMs: number;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | null = null;
  private stopped = false;
  private readonly select: Database.Statement;

  constructor(private readonly opts: { store: EventStore; db: Database.Database; projections: SqliteProjection[]; pollMs?: number }) {
    this.pollMs = opts.pollMs ?? 20;
    this.select = opts.db.prepare('SELECT name, version, position FROM projection_checkpoints');
    for (const p of opts.projections) {
      this.followed.set(p.name, { status: { name: p.name, version: p.version, position: 0, caughtUp: false }, checkpoint: 0, provenTo: 0 });
    }
  }

  get projections() { return this.opts.projections; }

  /** Creates the tables if the projector has not yet (so queries answer empty, not fail) and follows in the background. */
  start(): void {
    for (const p of this.opts.projections) p.setup(this.opts.db);
    const tick = () => {
      if (this.stopped) return;
      this.refresh().catch(() => undefined).finally(() => { if (!this.stopped) this.timer = setTimeout(tick, 250).unref(); });
    };
    tick();
  }

  statuses(): ProjectionStatus[] {
    return [...this.followed.values()].map((f) => ({ ...f.status }));
  }

  async waitFor(position: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.refresh();
      const behind = [...this.followed.values()].filter((f) => f.status.position < position);
      if (!behind.length) return;
      if (this.stopped || Date.now() >= deadline) {
        throw new Error(`the projector has not reached position ${position} within ${timeoutMs} ms: ${behind.map((f) => `${f.status.name} at ${f.status.position}`).join(', ')} (is \`ledger projector\` running?)`);
      }
      await sleep(this.pollMs);
    }
  }

  digest(name: string): string {
    const p = this.opts.projections.find((x) => x.name === name);
    if (!p) throw new Error(`unknown projection ${name}; known: ${this.opts.projections.map((x) => x.name).join(', ')}`);
    return digestOf(this.opts.db, p);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.refreshing?.catch(() => undefined);
  }

  /** One refresh at a time; concurrent callers share it. */
  private refresh(): Promise<void> {
    this.refreshing ??= this.refreshOnce().finally(() => { this.refreshing = null; });
    return this.refreshing;
  }

  private async refreshOnce(): Promise<void> {
    const rows = new Map((this.select.all() as { name: string; version: number; position: number }[]).map((r) => [r.name, r]));
    const head = await this.opts.store.headPosition(); // read before the proofs: everything up to it is visible to them
    for (const p of this.opts.projections) {
      const f = this.followed.get(p.name)!;
      const row = rows.get(p.name);
      if (row && row.version !== p.version) {
        f.status = { ...f.status, caughtUp: false, lastError: `the projector runs version ${row.version} of ${p.name}, this process expects ${p.version}` };
        continue;
      }
      const checkpoint = row?.position ?? 0;
      if (checkpoint < f.checkpoint) f.provenTo = checkpoint; // rebuilt from zero: prove again
      f.checkpoint = checkpoint;
      f.provenTo = Math.max(f.provenTo, checkpoint);
      if (f.provenTo < head) {
        const [next] = await this.opts.store.readAll({ after: f.provenTo, maxCount: 1, filter: p.filter });
        f.provenTo = next ? Math.max(f.provenTo, Math.min(head, next.position - 1)) : head;
      }
      f.status = { name: p.name, version: p.version, position: f.provenTo, caughtUp: f.status.caughtUp || f.provenTo >= head };
    }
  }
}
