/**
 * `ledger audit digest` and `ledger audit verify` as child processes: an intact log verifies; one byte altered in
 * one stored event (changed with better-sqlite3 directly in the SQLite file) is found and named; the last event of
 * a stream deleted passes the chain walk and is found only against the digest; an edited digest is refused.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Database from 'better-sqlite3';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedScenario, type Scenario } from '../core/audit/fixture.ts';
import { ledger } from '../core/audit/cli-harness.ts';

const root = mkdtempSync(join(tmpdir(), 'ledger-audit-verify-'));
const base = join(root, 'base');
let s: Scenario;
const digestFile = join(root, 'auditor', 'digest.json');
test.before(async () => { s = await seedScenario(base); });
test.after(() => rmSync(root, { recursive: true, force: true }));

/** A copy of the data directory to tamper with. */
let copies = 0;
const copy = () => { const d = join(root, `copy${copies++}`); cpSync(base, d, { recursive: true }); return d; };
const sql = (dataDir: string, fn: (db: Database.Database) => void) => { const db = new Database(join(dataDir, 'events.sqlite')); try { fn(db); } finally { db.close(); } };

test('an intact log verifies; the digest is exported, signed and kept', async () => {
  const v = await ledger(['audit', 'verify', '--data', base]);
  assert.is(v.code, 0, v.stderr);
  assert.match(v.lines[0], /^OK: 5 streams, 9 events \(through position 9\): every hash chain is intact/);
  assert.match(v.stdout, /no digest to check against/);
  const d = await ledger(['audit', 'digest', '--data', base, '--out', digestFile, '--json']);
  assert.is(d.code, 0, d.stderr);
  assert.equal([d.json.ok, d.json.streams, d.json.events, d.json.headPosition, d.json.signed], [true, 5, 9, 9, true]);
  const doc = JSON.parse(readFileSync(digestFile, 'utf8'));
  assert.equal(Object.keys(doc.heads), ['Host-h_1', 'Project-p_web', 'Region-r_eu', 'User-u_bob', 'Zone-z_a']);
  assert.equal([doc.heads['Host-h_1'].revision, doc.heads['Host-h_1'].position], [4, 9]);
  assert.is(doc.heads['Host-h_1'].eventId, s.events[8].metadata.eventId);
  assert.is(doc.root, d.json.root);
  assert.is(doc.signature.alg, 'HMAC-SHA256');
  assert.is(statSync(join(base, 'audit-hmac.key')).mode & 0o777, 0o600);
  assert.ok(existsSync(join(base, 'audit', 'last-digest.json')));
  const v2 = await ledger(['audit', 'verify', '--data', base, '--against', digestFile]);
  assert.is(v2.code, 0, v2.stdout);
  assert.match(v2.stdout, /root valid, signature valid\): 5 recorded heads checked; since then 0 new streams, 0 more events/);
});

test('one byte altered in one stored event is found and named (exit 3)', async () => {
  const d = copy();
  const victim = s.events[5]; // Host-h_1 revision 1, XNodeSliced
  sql(d, (db) => {
    const { body } = db.prepare('SELECT body FROM events WHERE position = ?').get(victim.position) as { body: string };
    const i = body.indexOf('"cpuCores":4');
    const altered = `${body.slice(0, i + 11)}8${body.slice(i + 12)}`; // one byte: 4 → 8
    assert.is(altered.length, body.length);
    db.prepare('UPDATE events SET body = ? WHERE position = ?').run(altered, victim.position);
  });
  const r = await ledger(['audit', 'verify', '--data', d, '--no-digest']);
  assert.is(r.code, 3, r.stdout + r.stderr);
  assert.match(r.lines[0], new RegExp(`^FAILED: Host-h_1 revision 1 \\(position 6, event ${victim.metadata.eventId}\\): its stored bytes do not match its hash chain`));
  const j = await ledger(['audit', 'verify', '--data', d, '--against', digestFile, '--json']);
  assert.is(j.code, 3);
  assert.equal([j.json.ok, j.json.first.kind, j.json.first.streamId, j.json.first.revision, j.json.first.position], [false, 'altered', 'Host-h_1', 1, 6]);
  const digest = await ledger(['audit', 'digest', '--data', d]);
  assert.is(digest.code, 3, 'no digest of a broken log');
  assert.match(digest.stderr, /refusing to export a digest of a log that fails verification: Host-h_1 revision 1/);
});

test('the last event of a stream deleted: invisible to the chain walk, found against the digest (exit 3)', async () => {
  const d = copy();
  sql(d, (db) => db.prepare("DELETE FROM events WHERE stream = 'Host-h_1' AND revision = 4").run());
  const alone = await ledger(['audit', 'verify', '--data', d, '--no-digest']);
  assert.is(alone.code, 0, 'what remains is a valid chain');
  const r = await ledger(['audit', 'verify', '--data', d, '--against', digestFile]);
  assert.is(r.code, 3, r.stdout);
  assert.match(r.lines[0], new RegExp(`^FAILED: Host-h_1 revision 4 \\(position 9, event ${s.events[8].metadata.eventId}\\) recorded in the digest is no longer in the log: the stream now ends at revision 3`));
  // the copy in the data directory is the default
  const dflt = await ledger(['audit', 'verify', '--data', d]);
  assert.is(dflt.code, 3);
  assert.match(dflt.stdout, /note: the digest was the copy kept in the data directory/);
});

test('a removed middle event, two swapped events, a deleted stream', async () => {
  const d = copy();
  sql(d, (db) => {
    db.prepare("DELETE FROM events WHERE stream = 'Host-h_1' AND revision = 2").run();
    db.prepare("DELETE FROM events WHERE stream = 'Zone-z_a'").run();
  });
  const r = await ledger(['audit', 'verify', '--data', d, '--against', digestFile, '--json']);
  assert.is(r.code, 3);
  assert.equal(r.json.findings.map((f: any) => `${f.kind} ${f.streamId}@${f.revision}`), ['truncated Zone-z_a@0', 'gap Host-h_1@3']);
  const d2 = copy();
  sql(d2, (db) => {
    const a = db.prepare('SELECT type, body, hash FROM events WHERE position = 7').get() as any;
    const b = db.prepare('SELECT type, body, hash FROM events WHERE position = 8').get() as any;
    db.prepare('UPDATE events SET type = ?, body = ?, hash = ? WHERE position = 7').run(b.type, b.body, b.hash);
    db.prepare('UPDATE events SET type = ?, body = ?, hash = ? WHERE position = 8').run(a.type, a.body, a.hash);
  });
  const r2 = await ledger(['audit', 'verify', '--data', d2, '--json']);
  assert.is(r2.code, 3);
  assert.equal([r2.json.first.kind, r2.json.first.streamId, r2.json.first.revision], ['altered', 'Host-h_1', 2]);
});

test('an edited digest is refused; a foreign or malformed file is an error (exit 1)', async () => {
  const doc = JSON.parse(readFileSync(digestFile, 'utf8'));
  doc.heads['Host-h_1'].hash = 'f'.repeat(64);
  const edited = join(root, 'edited.json');
  writeFileSync(edited, JSON.stringify(doc));
  const r = await ledger(['audit', 'verify', '--data', base, '--against', edited]);
  assert.is(r.code, 3);
  assert.match(r.lines[0], /^FAILED: the digest document was edited: its root hash does not match its heads/);
  const bad = join(root, 'bad.json');
  writeFileSync(bad, '{"hello": 1}');
  const r2 = await ledger(['audit', 'verify', '--data', base, '--against', bad]);
  assert.is(r2.code, 1);
  assert.match(r2.stderr, /not an audit digest/);
  const r3 = await ledger(['audit', 'verify', '--data', base, '--against', join(root, 'missing.json')]);
  assert.is(r3.code, 1);
  assert.match(r3.stderr, /cannot read the digest/);
});

test.run();
