import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventStoreContract } from './contract.ts';
import { SqliteEventStore } from './sqlite.ts';

const dir = mkdtempSync(join(tmpdir(), 'ledger-sqlite-'));
let i = 0;
const contract = eventStoreContract('sqlite', async () => new SqliteEventStore({ path: join(dir, `events-${++i}.sqlite`), pollIntervalMs: 20 }));
contract.after(() => rmSync(dir, { recursive: true, force: true }));
contract.run();
