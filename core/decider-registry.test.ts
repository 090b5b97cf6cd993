import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deciderFor, deciderForStream, registerDecider, registeredCategories } from './decider-registry.ts';
import { accountDecider } from './testing/example-account.ts';

test('registers a decider per category and finds it by category or stream', () => {
  registerDecider('Account', accountDecider);
  registerDecider('Account', accountDecider); // the same again: fine
  assert.is(deciderFor('Account'), accountDecider);
  assert.is(deciderForStream('Account-a_1'), accountDecider);
  assert.is(deciderFor('Nothing'), undefined);
  assert.ok(registeredCategories().includes('Account'));
});

test('refuses another decider for a taken category, bad names and non-deciders', () => {
  assert.throws(() => registerDecider('Account', { ...accountDecider }), /already has a decider/);
  assert.throws(() => registerDecider('Bad-Name', accountDecider), /invalid category/);
  assert.throws(() => registerDecider('Thing', {} as any), /not a decider/);
});

test('core/deciders.ts registers every layer that exists', async () => {
  await import('./deciders.ts');
  for (const c of ['Region', 'Zone', 'Names', 'Host', 'Network', 'XNetwork', 'Image', 'XImage', 'RContract', 'User', 'Project', 'ComponentType', 'CContract', 'Billing']) {
    assert.ok(deciderFor(c), `no decider for ${c}`);
  }
});

test.run();
