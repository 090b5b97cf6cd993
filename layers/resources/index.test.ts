import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { categoryDefinitions, commandDefinitions, eventDefinitions, SchemaError } from '../../schema/registry.ts';
import { RESOURCE_COMMAND_TYPES, resourceCommand, resourceDeciders } from './index.ts';

test('every Resources command routes to its stream and decider, after validation', () => {
  const r = resourceCommand('SliceXNode', { hostId: 'h_1', xnodeId: 'xn_1', size: { cpuCores: 2, ramMiB: 2_048, diskGiB: 20 } });
  assert.equal([r.stream, r.category, r.decider === resourceDeciders.Host], ['Host-h_1', 'Host', true]);
  assert.is(resourceCommand('ReserveName', { scope: 'regions', kind: 'region', name: 'EU', ownerId: 'r_eu' }).stream, 'Names-regions');
  assert.is(resourceCommand('OpenRContract', { contractId: 'rc_1', items: [{ kind: 'image', regionId: 'r_eu', quota: { checkpoints: 1, sizeGiB: 1 } }] }).stream, 'RContract-rc_1');
  assert.ok(RESOURCE_COMMAND_TYPES.length >= 50, String(RESOURCE_COMMAND_TYPES.length));
});

test('bad input is refused naming every wrong field, before any decider runs', () => {
  try {
    resourceCommand('SliceXNode', { hostId: 'h-1', xnodeId: 'xn_1', size: { cpuCores: 1.5, ramMiB: -1, diskGiB: 20 }, extra: true });
    assert.unreachable();
  } catch (e) {
    assert.instance(e, SchemaError);
    const issues = (e as SchemaError).issues.join('\n');
    for (const field of ['hostId', 'size.cpuCores', 'size.ramMiB']) assert.ok(issues.includes(field), `${field} in ${issues}`);
  }
  assert.throws(() => resourceCommand('RegisterHost', { hostId: 'h_1' }), /zoneId/);
  assert.throws(() => resourceCommand('NoSuchCommand', {}), /unknown Resources command/);
});

test('the registry knows every Resources category, event and command (the catalogue is generated from it)', () => {
  const cats = categoryDefinitions().filter((c) => c.layer === 'resources').map((c) => c.name).sort();
  assert.equal(cats, ['Host', 'Image', 'Move', 'Names', 'Network', 'RContract', 'Region', 'XImage', 'XNetwork', 'Zone']);
  const events = eventDefinitions().filter((e) => cats.includes(e.category));
  assert.ok(events.length >= 60, String(events.length));
  assert.ok(events.every((e) => e.description.length > 10));
  const commands = commandDefinitions().filter((c) => cats.includes(c.category)).map((c) => c.type);
  assert.equal(commands.sort(), [...RESOURCE_COMMAND_TYPES].sort());
});

test.run();
