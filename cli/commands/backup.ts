/**
 * `ledger backup <file>`: an online copy of the embedded event log (<data>/events.sqlite) while the ledger keeps
 * running, through SQLite's online backup API (better-sqlite3's `db.backup()`). The copy is a consistent snapshot
 * of one moment: every append is either wholly in it or not at all. Read models and checkpoints are not copied: they
 * are rebuilt from the log (`ledger replay`), so the log is all an operator must keep.
 *
 * The copy is written to `<file>.partial` and renamed when complete, so a crash never leaves a file that looks like
 * a backup but is not one. With `--verify`, every stream's hash chain in the copy is checked before it is renamed.
 */
import { type Command } from 'commander';
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError, loadConfig } from '../../core/config.ts';
import { SqliteEventStore } from '../../core/event-store/sqlite.ts';
import { withDataDir, withJson } from '../options.ts';

export interface BackupSummary {
  file: string;
  events: number;
  streams: number;
  headPosition: number;
  bytes: number;
  seconds: number;
  /** Streams whose chain failed verification (only with --verify). */
  broken?: string[];
}

/** Copies the log at `source` to `target` online; returns what the copy holds. */
export async function backupEventLog(source: string, target: string, options: { verify?: boolean; progress?: (done: number, total: number) => void } = {}): Promise<BackupSummary> {
  const started = performance.now();
  const partial = `${target}.partial`;
  rmSync(partial, { force: true });
  // A read-write handle (not readonly) so SQLite may checkpoint the WAL; the backup itself only reads. Other
  // processes keep appending meanwhile.
  const db = new Database(source, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    await db.backup(partial, {
      progress: ({ totalPages, remainingPages }) => {
        options.progress?.(totalPages - remainingPages, totalPages);
        // Everything in one step. The backup API restarts whenever another connection writes the source between
        // steps, so small steps never finish under a steady append storm (seen: a livelock of minutes). One step
        // holds only a WAL read snapshot: writers keep appending meanwhile, and the copy is that snapshot.
        return 1 << 30;
      },
    });
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  } finally {
    db.close();
  }
  // The copy is a database in rollback-journal mode with no WAL beside it: a single self-contained file.
  const copy = new Database(partial);
  let events: number; let streams: number; let headPosition: number;
  try {
    copy.pragma('journal_mode = DELETE');
    ({ events, streams, headPosition } = copy.prepare('SELECT count(*) AS events, count(DISTINCT stream) AS streams, coalesce(max(position), 0) AS headPosition FROM events').get() as { events: number; streams: number; headPosition: number });
  } finally {
    copy.close();
  }
  let broken: string[] | undefined;
  if (options.verify) {
    const store = new SqliteEventStore({ path: partial, readonly: true });
    try {
      broken = [];
      for (const s of store.streams()) if (await store.verifyStream(s) !== null) broken.push(s);
    } finally {
      await store.close();
    }
    if (broken.length) {
      rmSync(partial, { force: true });
      throw new Error(`the copy has ${broken.length} stream(s) whose hash chain does not verify (first: ${broken[0]}); the log itself is damaged: run \`ledger audit verify\``);
    }
  }
  renameSync(partial, target);
  return { file: target, events, streams, headPosition, bytes: statSync(target).size, seconds: (performance.now() - started) / 1000, ...(broken && { broken }) };
}

export function register(program: Command): void {
  const cmd = program.command('backup')
    .description('Copy the embedded event log to <file> online (SQLite backup API), while the ledger keeps running')
    .argument('<file>', 'where the copy goes (must not exist; written as <file>.partial, renamed when complete)')
    .option('--verify', 'check every stream\'s hash chain in the copy before keeping it')
    .option('--force', 'overwrite <file> if it exists');
  withDataDir(cmd);
  withJson(cmd);
  cmd.addHelpText('after', `
Copies <data>/events.sqlite, the only thing that must be kept: read models and checkpoints are rebuilt from it.
The copy is one self-contained SQLite file, a consistent snapshot; appends made during the copy are either wholly in
it or not at all. To restore: stop every process of the ledger, put the copy at <data>/events.sqlite (remove the
old -wal and -shm files), delete <data>/readmodels.sqlite and <data>/checkpoints.sqlite, and start again (the read
models rebuild). The KurrentDB profile backs up the database's own way (see docs/operations.md).

Examples:
  ledger backup /backups/ledger-$(date -u +%Y%m%dT%H%M%SZ).sqlite --verify
  ledger backup /tmp/copy.sqlite --data /var/lib/ledger --json`);
  cmd.action(async (file: string, opts: { data?: string; json?: boolean; verify?: boolean; force?: boolean }) => {
    const config = loadConfig(process.env, { LEDGER_DATA_DIR: opts.data });
    if (config.LEDGER_EVENTSTORE_URL) throw new ConfigError(['LEDGER_EVENTSTORE_URL is set: `ledger backup` copies the embedded SQLite log; back up KurrentDB with its own tools (docs/operations.md)']);
    const source = join(config.dataDir, 'events.sqlite');
    if (!existsSync(source)) throw new ConfigError([`no event log at ${source}: check --data / LEDGER_DATA_DIR`]);
    const target = resolve(file);
    if (target === resolve(source)) throw new ConfigError([`<file> is the log itself (${source})`]);
    if (!existsSync(dirname(target))) throw new ConfigError([`<file>: directory ${dirname(target)} does not exist`]);
    if (existsSync(target) && !opts.force) throw new ConfigError([`<file> ${target} exists: pass --force to overwrite it`]);
    const summary = await backupEventLog(source, target, { verify: opts.verify });
    if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      process.stdout.write(`backup: ${summary.events} events in ${summary.streams} streams (head position ${summary.headPosition}), `
        + `${summary.bytes} bytes, ${summary.seconds.toFixed(2)} s${opts.verify ? ', every chain verified' : ''} → ${summary.file}\n`);
    }
  });
}
