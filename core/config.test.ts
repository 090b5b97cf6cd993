import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, loadConfig } from './config.ts';

test('defaults give the embedded profile on ./data and port 4000', () => {
  const c = loadConfig({});
  assert.is(c.LEDGER_PORT, 4000);
  assert.ok(c.dataDir.endsWith('/data'));
  assert.is(c.LEDGER_EVENTSTORE_URL, undefined);
});

test('overrides from flags win over the environment', () => {
  assert.is(loadConfig({ LEDGER_PORT: '5000' }, { LEDGER_PORT: '6000' }).LEDGER_PORT, 6000);
});

test('every wrong value is named on its own line', () => {
  try {
    loadConfig({ LEDGER_PORT: 'eighty', LEDGER_NATS_URL: 'http://x', LEDGER_MODE: 'prod' });
    assert.unreachable();
  } catch (e) {
    assert.instance(e, ConfigError);
    const lines = (e as ConfigError).message.split('\n').slice(1);
    assert.is(lines.length, 3);
    assert.ok(lines.some((l) => l.includes('LEDGER_PORT="eighty"')));
    assert.ok(lines.some((l) => l.includes('LEDGER_NATS_URL') && l.includes('nats://')));
    assert.ok(lines.some((l) => l.includes('LEDGER_MODE')));
  }
});

test.run();
