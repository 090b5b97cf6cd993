/** `ledger state <stream>`: a stream's state at a revision or a recorded time, folded by its category's decider. */
import { Option, type Command } from 'commander';
import { stateAt } from '../../core/audit/state.ts';
import { openStoreReadOnly } from '../../core/audit/open.ts';
import { parseCount, parseTime } from '../../core/audit/time.ts';
import { configFrom, withDataDir, withJson } from '../options.ts';

export function register(program: Command) {
  const cmd = program.command('state')
    .argument('<stream>', 'stream name, e.g. Host-h_1')
    .description('State of a stream folded by its decider, now or as of a time or revision')
    .addOption(new Option('--as-of <time>', 'only events recorded at or before this UTC time (ISO 8601, or a date)').conflicts('atRevision'))
    .addOption(new Option('--at-revision <n>', 'only events up to and including this revision').conflicts('asOf'));
  withJson(cmd);
  withDataDir(cmd);
  cmd.addHelpText('after', `
Times are recordedAt: the state the ledger held at that moment. The decider of each category is the one its layer registered (core/deciders.ts).
A stream of another category is shown as its list of events instead (and says so).
Exit status: 0; 1 when the stream does not exist or an option is wrong.`);
  cmd.action(async (stream: string, opts: { asOf?: string; atRevision?: string; json?: boolean; data?: string }) => {
    const q = {
      ...(opts.asOf !== undefined && { asOf: parseTime(opts.asOf, '--as-of') }),
      ...(opts.atRevision !== undefined && { atRevision: parseCount(opts.atRevision, '--at-revision') }),
    };
    const config = configFrom(opts);
    await import('../../schema/index.ts'); // every layer's event types (upcasting on read)
    await import('../../core/deciders.ts'); // every layer's deciders
    const store = await openStoreReadOnly(config);
    let r;
    try { r = await stateAt(store, stream, q); } finally { await store.close(); }
    if (opts.json) { process.stdout.write(`${JSON.stringify(r)}\n`); return; }
    const point = r.asOf !== undefined ? ` as of ${r.asOf}` : r.atRevision !== undefined ? ` at revision ${r.atRevision}` : '';
    if (r.revision < 0) {
      console.log(`${stream} did not exist yet${point} (it has revisions 0 to ${r.headRevision} now)`);
      return;
    }
    const where = `revision ${r.revision} of ${r.headRevision}, position ${r.position}, recorded ${r.recordedAt}`;
    if (r.folded) {
      console.log(`${stream}${point}: ${where}; ${r.eventCount} events folded by the ${r.category} decider`);
      console.log(JSON.stringify(r.state, null, 2));
    } else {
      console.log(`${stream}${point}: ${where}; no decider is registered for category ${r.category}, so here are its ${r.eventCount} events instead of a state:`);
      for (const e of r.events ?? []) console.log(`${e.metadata.recordedAt} @${e.revision} ${e.type} ${JSON.stringify(e.data)}`);
    }
  });
}
