/**
 * `ledger audit log | verify | digest`: the operator's view of the log — who did what, when, why — and the proof
 * that it was not altered. See docs/audit.md.
 */
import { Option, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { EventStore } from '../../core/event-store/port.ts';
import { causalDepths, MAX_LIMIT, queryAuditLog, type AuditEntry, type AuditFilter } from '../../core/audit/log.ts';
import { catchUpAuditIndex, openReadModels, openStoreReadOnly } from '../../core/audit/open.ts';
import { parseCount, parseTime } from '../../core/audit/time.ts';
import { compareWithDigest, walkChains, type Finding } from '../../core/audit/verify.ts';
import {
  checkDigest, formatDigest, lastDigestPath, loadAuditKey, makeDigest, readDigest, writeAtomic, type SignatureCheck,
} from '../../core/audit/digest.ts';
import { configFrom, withDataDir, withJson } from '../options.ts';

/** Exit status of `audit verify` when the log or the digest fails verification (1 is any other error). */
export const EXIT_TAMPERED = 3;

interface LogOptions {
  stream?: string; category?: string; tenant?: string; actor?: string; correlation?: string; from?: string; to?: string;
  limit: string; after?: string; json?: boolean; data?: string; index: boolean;
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const tail = (id: string | undefined) => (id === undefined ? '-' : id.length > 12 ? `…${id.slice(-8)}` : id);

function formatEntries(entries: AuditEntry[], trace: boolean): string[] {
  if (entries.length === 0) return [];
  const depths = trace ? causalDepths(entries) : entries.map(() => 0);
  const w = {
    actor: Math.min(28, Math.max(...entries.map((e) => `${e.actor.kind}:${e.actor.id}`.length))),
    stream: Math.min(36, Math.max(...entries.map((e) => `${e.streamId}@${e.revision}`.length))),
    type: Math.min(26, Math.max(...entries.map((e) => e.type.length)) + Math.max(...depths) * 2),
  };
  return entries.map((e, i) => {
    const indent = '  '.repeat(depths[i]);
    const ids = trace ? `event ${tail(e.eventId)} ← ${tail(e.causationId)}` : `corr ${e.correlationId} ← ${tail(e.causationId)}`;
    return [
      e.recordedAt, pad(`${e.actor.kind}:${e.actor.id}`, w.actor), pad(`${e.streamId}@${e.revision}`, w.stream),
      pad(indent + e.type, w.type), e.summary ? `${e.summary}  ` : '', `[${ids}]`,
    ].join(' ').replace(/ {2}\[/, '  [');
  });
}

function registerLog(audit: Command) {
  const cmd = audit.command('log')
    .description('Timeline of the log: time, actor, stream, event, summary, correlation/causation; filtered and paged')
    .option('--stream <stream>', 'one stream (e.g. Host-h_1)')
    .option('--category <category>', 'one stream category (e.g. Host)')
    .option('--tenant <tenantId>', 'events carrying this tenant id')
    .option('--actor <actor>', 'events by this actor: <kind>:<id> (kinds tenant, operator, system, agent) or a bare id')
    .option('--correlation <id>', 'one request traced across every stream it touched (indented by causation)')
    .option('--from <time>', 'recorded at or after this UTC time (ISO 8601, or a date)')
    .option('--to <time>', 'recorded before this UTC time (half-open window)')
    .addOption(new Option('--limit <n>', `events per page (1-${MAX_LIMIT})`).default('50'))
    .option('--after <cursor>', 'continue after this cursor (printed at the end of the previous page)')
    .option('--no-index', 'scan the log instead of using (and catching up) the audit index in the read-model database');
  withJson(cmd);
  withDataDir(cmd);
  cmd.addHelpText('after', `
Times are the events' recordedAt (when the ledger stored them), in UTC. Filters combine (AND).
The audit index lives in <data>/readmodels.sqlite (read model "audit"); this command brings it up to date first
(the first time over a large log, by a bulk rebuild), and scans the log for anything newer than the index.
Exit status: 0 (also when nothing matches), 1 on bad options or errors.

Examples:
  ledger audit log --correlation 0190f5c2-7a4b-7cc3-9d55-2b8f0e7d9a11
  ledger audit log --tenant u_7f3a --from 2025-03-01 --to 2025-04-01 --json
  ledger audit log --actor operator:ops_ann --limit 20 --after 1234`);
  cmd.action(async (opts: LogOptions) => {
    const filter: AuditFilter = {
      ...(opts.stream !== undefined && { stream: opts.stream }), ...(opts.category !== undefined && { category: opts.category }),
      ...(opts.tenant !== undefined && { tenant: opts.tenant }), ...(opts.actor !== undefined && { actor: opts.actor }),
      ...(opts.correlation !== undefined && { correlation: opts.correlation }),
      ...(opts.from !== undefined && { from: parseTime(opts.from, '--from') }), ...(opts.to !== undefined && { to: parseTime(opts.to, '--to') }),
    };
    const limit = parseCount(opts.limit, '--limit', { min: 1, max: MAX_LIMIT });
    const after = opts.after === undefined ? 0 : parseCount(opts.after, '--after');
    const config = configFrom(opts);
    await import('../../schema/index.ts'); // every layer's event types, for upcasting on read
    const store = await openStoreReadOnly(config);
    const db = opts.index ? openReadModels(config) : null;
    try {
      if (db) await catchUpAuditIndex(store, db, config.dataDir, (l) => process.stderr.write(`${l}\n`));
      const page = await queryAuditLog(store, db, filter, { limit, after });
      if (opts.json) { process.stdout.write(`${JSON.stringify(page)}\n`); return; }
      const trace = filter.correlation !== undefined;
      if (trace) console.log(`request ${filter.correlation}: ${page.entries.length} event(s), indented by causation (event ← cause)`);
      for (const line of formatEntries(page.entries, trace)) console.log(line);
      if (page.entries.length === 0) console.log('no events match');
      if (page.nextCursor !== null) console.log(`more: --after ${page.nextCursor}`);
    } finally {
      db?.close();
      await store.close();
    }
  });
}

interface VerifyOptions { against?: string; json?: boolean; data?: string; digest: boolean }

async function verify(store: EventStore, dataDir: string, opts: VerifyOptions) {
  const walk = await walkChains(store);
  let digestPath: string | null = null;
  if (opts.digest) {
    if (opts.against) digestPath = resolve(opts.against);
    else if (existsSync(lastDigestPath(dataDir))) digestPath = lastDigestPath(dataDir);
  }
  let against: null | { file: string; createdAt: string; root: string; rootValid: boolean; signature: SignatureCheck; streamsChecked: number; newStreams: number; eventsSince: number; fromDataDir: boolean } = null;
  const findings: Finding[] = [...walk.findings];
  if (digestPath) {
    const { doc, rootValid, signature } = checkDigest(readDigest(digestPath), loadAuditKey(dataDir, false));
    const cmp = await compareWithDigest(store, walk, doc, { rootValid, signature });
    findings.push(...cmp.findings);
    against = { file: digestPath, createdAt: doc.createdAt, root: doc.root, rootValid, signature, streamsChecked: cmp.streamsChecked, newStreams: cmp.newStreams, eventsSince: cmp.eventsSince, fromDataDir: !opts.against };
  }
  findings.sort((a, b) => (a.kind === 'digest' ? -1 : b.kind === 'digest' ? 1 : (a.position ?? 0) - (b.position ?? 0)));
  return { ok: findings.length === 0, streams: walk.streams, events: walk.events, headPosition: walk.headPosition, digest: against, first: findings[0] ?? null, findings };
}

function registerVerify(audit: Command) {
  const cmd = audit.command('verify')
    .description('Recompute every stream\'s hash chain and check the chain heads against an exported digest')
    .option('--against <file>', 'the digest to check against (default: the last one `ledger audit digest` exported here)')
    .option('--no-digest', 'check the chains only, against no digest');
  withJson(cmd);
  withDataDir(cmd);
  cmd.addHelpText('after', `
Every event's hash is recomputed from its stored bytes: an altered, swapped, removed or inserted event inside a
stream is named. Against a digest (an auditor's copy, kept outside the system), every recorded head must still be in
the log with the same hash: this also catches events removed from the END of a stream, whole streams deleted, and
streams rewritten with a recomputed chain, which no chain walk alone can see.

Exit status: 0 intact; ${EXIT_TAMPERED} the log or the digest failed verification (the first problem, earliest
position first, is named); 1 other errors (no event store, unreadable digest, bad options).`);
  cmd.action(async (opts: VerifyOptions) => {
    const config = configFrom(opts);
    const store = await openStoreReadOnly(config);
    let report;
    try { report = await verify(store, config.dataDir, opts); } finally { await store.close(); }
    if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      const d = report.digest;
      if (report.ok) {
        console.log(`OK: ${report.streams} streams, ${report.events} events (through position ${report.headPosition}): every hash chain is intact`);
      } else {
        console.log(`FAILED: ${report.first!.message}`);
        console.log(`${report.findings.length} problem(s) in ${report.streams} streams, ${report.events} events (through position ${report.headPosition}):`);
        for (const f of report.findings.slice(0, 20)) console.log(`  ${f.kind.padEnd(9)} ${f.message}`);
        if (report.findings.length > 20) console.log(`  … and ${report.findings.length - 20} more (--json lists them all)`);
      }
      if (d) {
        const sig = { valid: 'signature valid', invalid: 'SIGNATURE INVALID', 'other-key': 'signed with another key (not checked)', unsigned: 'unsigned', 'no-key': 'signature not checked (no audit key in this data directory)' }[d.signature];
        console.log(`against digest ${d.file} (created ${d.createdAt}, root ${d.root.slice(0, 16)}…, ${d.rootValid ? 'root valid' : 'ROOT INVALID'}, ${sig}): ${d.streamsChecked} recorded heads checked; since then ${d.newStreams} new streams, ${d.eventsSince} more events`);
        if (d.fromDataDir) console.log('note: the digest was the copy kept in the data directory; an auditor\'s own copy proves more (whoever can alter the log can alter this copy)');
      } else if (opts.digest) {
        console.log('note: no digest to check against (run `ledger audit digest --out FILE` and keep the file): events removed from the end of a stream cannot be detected without one');
      }
    }
    if (!report.ok) process.exitCode = EXIT_TAMPERED;
  });
}

interface DigestOptions { out?: string; json?: boolean; data?: string; sign: boolean }

function registerDigest(audit: Command) {
  const cmd = audit.command('digest')
    .description('Export the heads of all hash chains and their root hash, HMAC-signed, for an auditor to keep outside')
    .option('--out <file>', 'write the digest to this file (default: print it)')
    .option('--no-sign', 'leave the document unsigned (root hash only)');
  withJson(cmd);
  withDataDir(cmd);
  cmd.addHelpText('after', `
The chains are verified first: a log that fails verification gets no digest (exit status ${EXIT_TAMPERED}).
The document lists every stream's last revision, chain hash, position and event id, a root hash over them (sorted by
stream), and an HMAC-SHA256 signature with <data>/audit-hmac.key (created on first use, mode 0600). A copy is kept
as <data>/audit/last-digest.json, the default of \`ledger audit verify\`. Keep the --out file elsewhere.`);
  cmd.action(async (opts: DigestOptions) => {
    const config = configFrom(opts);
    const store = await openStoreReadOnly(config);
    let walk;
    try { walk = await walkChains(store); } finally { await store.close(); }
    if (walk.findings.length) {
      const msg = `refusing to export a digest of a log that fails verification: ${walk.findings[0].message}`;
      if (opts.json) process.stdout.write(`${JSON.stringify({ ok: false, error: msg, findings: walk.findings })}\n`);
      else console.error(`ledger: ${msg}`);
      process.exitCode = EXIT_TAMPERED;
      return;
    }
    const key = opts.sign ? loadAuditKey(config.dataDir) : null;
    const doc = makeDigest(walk.heads, { store: walk.store, headPosition: walk.headPosition, events: walk.events }, key);
    const text = formatDigest(doc);
    writeAtomic(lastDigestPath(config.dataDir), text);
    const summary = {
      ok: true, file: opts.out ? resolve(opts.out) : null, createdAt: doc.createdAt, root: doc.root, streams: doc.streams, events: doc.events,
      headPosition: doc.headPosition, signed: !!doc.signature, keyId: doc.signature?.keyId ?? null,
    };
    if (opts.out) {
      writeAtomic(resolve(opts.out), text);
      if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else console.log(`digest of ${doc.streams} streams, ${doc.events} events (through position ${doc.headPosition}) written to ${summary.file}\nroot ${doc.root}${doc.signature ? `\nsigned HMAC-SHA256, key id ${doc.signature.keyId}` : '\nunsigned'}`);
    } else if (opts.json) process.stdout.write(`${JSON.stringify(doc)}\n`);
    else process.stdout.write(text);
  });
}

export function register(program: Command) {
  const audit = program.command('audit').description('Audit the log: timelines, chain verification, digests (see docs/audit.md)');
  registerLog(audit);
  registerVerify(audit);
  registerDigest(audit);
}
