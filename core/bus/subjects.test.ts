import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertPattern, assertSubject, patternsOverlap, patternWithin, subjectMatches, subjectToken } from './subjects.ts';

test('subjectMatches: * is one token, > one or more trailing tokens', () => {
  const yes: [string, string][] = [
    ['a.b.c', 'a.b.c'], ['a.*.c', 'a.x.c'], ['a.>', 'a.b'], ['a.>', 'a.b.c.d'], ['*.*', 'x.y'], ['>', 'a'],
    ['ledger.resources.Host.h1.>', 'ledger.resources.Host.h1.XNodeSliced'],
  ];
  const no: [string, string][] = [
    ['a.b.c', 'a.b'], ['a.*.c', 'a.x.y.c'], ['a.>', 'a'], ['a.*', 'a.b.c'], ['a.b', 'a.b.c'],
    ['ledger.resources.Host.h1.>', 'ledger.resources.Host.h10.XNodeSliced'],
  ];
  for (const [p, s] of yes) assert.ok(subjectMatches(p, s), `${p} ~ ${s}`);
  for (const [p, s] of no) assert.not.ok(subjectMatches(p, s), `${p} !~ ${s}`);
});

test('patternsOverlap and patternWithin', () => {
  assert.ok(patternsOverlap('ledger.>', 'ledger.x'));
  assert.ok(patternsOverlap('ledger.>', '*.x.y'));
  assert.ok(patternsOverlap('>', 'cmd.x'));
  assert.not.ok(patternsOverlap('ledger.>', 'cmd.>'));
  assert.not.ok(patternsOverlap('ledger.>', 'ledger'));
  assert.not.ok(patternsOverlap('a.*', 'a.b.c'));
  assert.ok(patternWithin('ledger.test.*.x', ['ledger.>']));
  assert.ok(patternWithin('ledger.>', ['ledger.>']));
  assert.not.ok(patternWithin('>', ['ledger.>']));
  assert.not.ok(patternWithin('*.x', ['ledger.>']));
  assert.ok(patternWithin('a.b', ['a.*']));
  assert.not.ok(patternWithin('a.>', ['a.*']));
});

test('validation and tokens', () => {
  assert.throws(() => assertSubject('a.*'), /wildcards/);
  assert.throws(() => assertSubject('a..b'), /empty token/);
  assert.throws(() => assertSubject(''), /empty/);
  assert.throws(() => assertPattern('a.>.b'), /last token/);
  assert.throws(() => assertPattern('a.b*'), /whole token/);
  assertPattern('a.*.>');
  assertSubject('ledger.resources.Host.h_1.XNodeSliced');
  assert.is(subjectToken('odd.type v2*'), 'odd_type_v2_');
  assert.is(subjectToken(''), '_');
});

test.run();
