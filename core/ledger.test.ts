import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './config.ts';
import { openLedger } from './ledger.ts';
import { accountDecider } from './testing/example-account.ts';

const dir = mkdtempSync(join(tmpdir(), 'ledger-root-'));

test('embedded profile: commands are stored, relayed to the in-process bus, and reopened from disk', async () => {
  const config = loadConfig({ LEDGER_DATA_DIR: dir });
  let ledger = await openLedger(config, { relay: true });
  const seen: string[] = [];
  await ledger.bus!.subscribe('ledger.test.Account.>', (m) => { seen.push(m.subject); });
  const actor = { kind: 'operator', id: 'op' } as const;
  await ledger.execute(accountDecider, 'Account-a1', { type: 'Open', data: { owner: 'ann' } }, { actor });
  const r = await ledger.execute(accountDecider, 'Account-a1', { type: 'Deposit', data: { amount: 2 } }, { actor });
  await ledger.relay!.waitFor(r.position);
  for (let i = 0; i < 50 && seen.length < 2; i++) await new Promise((res) => setTimeout(res, 10));
  assert.equal(seen, ['ledger.test.Account.a1.AccountOpened', 'ledger.test.Account.a1.Deposited']);
  await ledger.close();
  ledger = await openLedger(config);
  assert.equal((await ledger.load(accountDecider, 'Account-a1')).state, { open: true, balance: 2 });
  await ledger.close();
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
