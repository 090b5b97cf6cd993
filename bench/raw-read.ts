/** The raw baseline of replay benchmarks: the log's rows read straight from SQLite and their bodies JSON-parsed. */
import Database from 'better-sqlite3';

/** The baseline: every row of the log read in batches of 5000 and its body JSON-parsed (500 or 1000 per batch measure the same: its objects die young). */
export function rawReadParse(path: string, expected: number): number {
  const db = new Database(path, { readonly: true });
  const stmt = db.prepare('SELECT position, stream, revision, type, body, hash FROM events WHERE position > ? ORDER BY position LIMIT 5000').raw(true);
  const t0 = process.hrtime.bigint();
  let after = 0;
  let count = 0;
  let sink = 0;
  for (;;) {
    const rows = stmt.all(after) as [number, string, number, string, string, string][];
    if (rows.length === 0) break;
    for (const row of rows) { const e = JSON.parse(row[4]); sink += e.metadata.version; count++; }
    after = rows[rows.length - 1][0];
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  db.close();
  if (count !== expected || sink < 0) throw new Error(`raw read saw ${count} of ${expected} events`);
  return seconds;
}
