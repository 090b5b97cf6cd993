/**
 * `ledger replay`: rebuild read models from zero beside the live ones (progress bar with events/s and ETA on stderr),
 * print the rebuilt digest next to the live one, and swap the rebuilt tables in without stopping the API
 * (core/audit/replay.ts explains the swap).
 */
import { Option, type Command } from 'commander';
import cliProgress from 'cli-progress';
import type { EventStore } from '../../core/event-store/port.ts';
import { discoverProjections, selectProjections } from '../../core/audit/projections.ts';
import { prepareRebuildThread } from '../../core/audit/rebuild.ts';
import { availableParallelism } from 'node:os';
import { openReadModels, openStoreReadOnly } from '../../core/audit/open.ts';
import { positionAtTime, replayProjections, type ReplayReport } from '../../core/audit/replay.ts';
import { parseCount, parsePositionOrTime } from '../../core/audit/time.ts';
import { configFrom, withDataDir, withJson } from '../options.ts';

const collect = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

async function resolveUntil(store: EventStore, until: string | undefined): Promise<{ position?: number; label?: string }> {
  if (until === undefined) return {};
  const u = parsePositionOrTime(until, '--until');
  if ('position' in u) {
    const head = await store.headPosition();
    if (u.position > head) throw new Error(`--until ${u.position} is beyond the head of the log (${head})`);
    return { position: u.position, label: `position ${u.position}` };
  }
  const position = await positionAtTime(store, u.time);
  return { position, label: `${u.time} (position ${position})` };
}

/**
 * Progress on stderr: a cli-progress bar with events/s and ETA on a terminal; on a pipe or a file, a plain line
 * every two seconds and one at the end (a bar redrawn into a log file is unreadable).
 */
function progressBar(name: string, enabled: boolean) {
  const started = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
  const rate = (events: number) => { const s = elapsed(); return s > 0 ? Math.round(events / s) : 0; };
  if (!enabled) return { update: (_p: number, _h: number, _e: number) => {}, stop: () => {} };
  if (!process.stderr.isTTY) {
    let lastLine = 0;
    let last: [number, number, number] | null = null;
    const line = ([p, h, e]: [number, number, number]) => {
      const r = rate(e);
      const eta = r > 0 && h > p ? Math.round(((h - p) / Math.max(p, 1)) * elapsed()) : 0;
      process.stderr.write(`${name}: position ${p}/${h} (${h ? Math.floor((100 * p) / h) : 100}%), ${e} events, ${r} events/s, ETA ${eta}s\n`);
    };
    return {
      update(p: number, h: number, e: number) {
        last = [p, h, e];
        if (elapsed() - lastLine >= 2) { lastLine = elapsed(); line(last); }
      },
      stop() { if (last) line(last); },
    };
  }
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: `${name.padEnd(10)} [{bar}] {percentage}% | position {value}/{total} | {events} events | {rate} events/s | ETA {eta_formatted}`,
    barsize: 24, hideCursor: true, etaBuffer: 50, fps: 5,
  }, cliProgress.Presets.shades_classic);
  let startedBar = false;
  return {
    update(position: number, head: number, events: number) {
      const payload = { events, rate: rate(events) };
      if (!startedBar) { bar.start(Math.max(head, 1), position, payload); startedBar = true; } else bar.update(position, payload);
    },
    stop() { if (startedBar) bar.stop(); },
  };
}

function printReport(r: ReplayReport) {
  const lines = [`${r.name} v${r.version}: ${r.events} events folded in ${r.seconds.toFixed(2)} s (${r.eventsPerSec} events/s), up to position ${r.position}`];
  lines.push(`  rebuilt digest ${r.digest}`);
  if (!r.live) lines.push('  live digest    (none: this read model was never projected in this data directory)');
  else if (r.live.digest === null) lines.push(`  live digest    (not comparable: the live read model is version ${r.live.version}${r.live.version === r.version ? ', incomplete' : ''}, at position ${r.live.position})`);
  else {
    const verdict = r.equal === true ? 'EQUAL' : r.equal === false ? 'DIFFERENT: the live read model had drifted from the log' : `not compared (the live one is at position ${r.live.position})`;
    lines.push(`  live digest    ${r.live.digest} (position ${r.live.position}): ${verdict}`);
  }
  if (r.swapped) lines.push(`  swapped into the live read-model database at position ${r.swapped.position} (${r.swapped.appliedDuringSwap} events applied during the swap)`);
  else lines.push('  not swapped: the live read model is unchanged');
  if (r.file) lines.push(`  rebuilt file kept: ${r.file}`);
  console.log(lines.join('\n'));
}

export function register(program: Command) {
  const cmd = program.command('replay')
    .description('Rebuild read models from zero side by side, compare digests with the live ones, swap without API downtime')
    .option('--projection <name>', 'a read model to rebuild (repeatable, or comma-separated; default: all)', collect)
    .option('--until <position|time>', 'stop at this position or recorded time (the rebuilt file is kept, never swapped)')
    .option('--no-swap', 'rebuild and compare only; leave the live read model as it is')
    .option('--keep', 'keep the rebuilt file under <data>/replay/ after swapping')
    .addOption(new Option('--batch-size <n>', 'events read per batch').default('500'))
    .option('--no-progress', 'no progress bar on stderr');
  withJson(cmd);
  withDataDir(cmd);
  cmd.addHelpText('after', `
Each read model is rebuilt into <data>/replay/<name>-<time>.sqlite up to the position the live one (in
<data>/readmodels.sqlite) had reached, so "rebuilt digest" and "live digest" are taken at the same position and must
be equal. Then, in one write transaction of the live database, its tables are replaced by the rebuilt ones and the
events the live projector committed meanwhile are applied: API readers keep reading the old tables until that commit
(SQLite WAL), and a running projector resumes exactly where the swapped tables are.
Exit status: 0; 1 on errors (unknown projection, --until beyond the log, …).`);
  cmd.action(async (opts: { projection?: string[]; until?: string; swap: boolean; keep?: boolean; batchSize: string; progress: boolean; json?: boolean; data?: string }) => {
    const config = configFrom(opts);
    const batchSize = parseCount(opts.batchSize, '--batch-size', { min: 1, max: 100_000 });
    // a two-thread rebuild's second thread boots while this one loads the schemas and the read models
    if (availableParallelism() >= 2) prepareRebuildThread().catch(() => { /* the rebuild starts one of its own */ });
    await import('../../schema/index.ts');
    const { projections: all, failed } = await discoverProjections();
    for (const f of failed) console.error(`warning: read model module ${f.file} did not load: ${f.error}`);
    const chosen = selectProjections(all, opts.projection);
    const store = await openStoreReadOnly(config);
    const live = openReadModels(config);
    const reports: ReplayReport[] = [];
    try {
      const until = await resolveUntil(store, opts.until);
      if (until.label) console.error(`replaying up to ${until.label}`);
      // every chosen read model in one pass over the log (read and decoded once), then compared and swapped one by one
      const bar = progressBar(chosen.map((p) => p.name).join(', '), opts.progress);
      try {
        reports.push(...await replayProjections(store, live, chosen, {
          dataDir: config.dataDir, until: until.position, swap: opts.swap, keep: opts.keep, batchSize,
          onProgress: (position, head, events) => bar.update(position, head, events),
        }));
      } finally { bar.stop(); }
      if (!opts.json) for (const r of reports) printReport(r);
    } finally {
      live.close();
      await store.close();
    }
    if (opts.json) process.stdout.write(`${JSON.stringify({ projections: reports })}\n`);
  });
}
